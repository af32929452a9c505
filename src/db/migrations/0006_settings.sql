-- Up Migration

-- Facts about this installation that must survive restarts, e.g. which upstream issuer the links
-- were made with (src/linking/upstream-issuer.ts).
CREATE TABLE bridge_settings (
  name       text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE bridge_settings;
