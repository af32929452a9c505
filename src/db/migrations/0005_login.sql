-- Up Migration

-- «Войти через Госуслуги» (docs/architecture.md, «How a login travels»): a login waiting for the person after the callback —
-- the chooser «Выберите организацию», or a failure page with the way back to the journal. Kept
-- server-side so a choice is checked against the candidates found here, never taken from the form
-- alone; bound to the browser (hash of the browser cookie, src/flows/browser.ts); used once; short.
--
-- The login path itself needs no new index: the linked cards of a subject are found through the
-- unique index of links (upstream_subject, organization_id, role), whose leading column is the
-- subject (0001_core.sql).
CREATE TABLE pending_logins (
  -- 256 random bits, base64url: the id travels in a URL.
  id               text PRIMARY KEY CHECK (length(id) = 43),
  browser_hash     bytea NOT NULL CHECK (length(browser_hash) = 32),
  kind             text NOT NULL CHECK (kind IN ('choose', 'failed')),
  -- The journal's authorization request being answered.
  client_id        text NOT NULL,
  redirect_uri     text NOT NULL,
  client_state     text NOT NULL,
  nonce            text,
  code_challenge   text,
  -- 'choose': who logged in, how (auth_time, acr), and the journal users they may pick from.
  upstream_subject text,
  auth             jsonb,
  candidates       text[] NOT NULL DEFAULT '{}',
  -- 'failed': the reason codes the page explains (src/matching/messages.ts).
  reasons          text[] NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  consumed_at      timestamptz,
  CHECK (kind <> 'choose' OR (nonce IS NOT NULL AND code_challenge IS NOT NULL AND upstream_subject IS NOT NULL AND auth IS NOT NULL AND cardinality(candidates) > 0)),
  CHECK (kind <> 'failed' OR cardinality(reasons) > 0)
);
CREATE INDEX pending_logins_expires_idx ON pending_logins (expires_at);
-- Logout forgets what this browser had pending.
CREATE INDEX pending_logins_browser_idx ON pending_logins (browser_hash);

-- Down Migration
DROP TABLE pending_logins;
