-- Up Migration

-- Directory: what the journal tells us about its organisations and users (docs/directory.md).
CREATE TABLE organizations (
  id           text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
  kind         text NOT NULL CHECK (kind IN ('school', 'kindergarten', 'additional_education')),
  municipality text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE journal_users (
  id               text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
  organization_id  text NOT NULL REFERENCES organizations (id),
  role             text NOT NULL CHECK (role IN ('parent', 'student', 'staff', 'admin')),
  last_name        text NOT NULL,
  first_name       text NOT NULL,
  middle_name      text,
  birth_date       date,
  -- SNILS is never stored in clear: HMAC-SHA256 of its 11 digits under SNILS_HMAC_KEY, which lives
  -- outside the database (a plain hash of a 10^9 keyspace is reversible in minutes).
  snils_hmac       bytea CHECK (snils_hmac IS NULL OR length(snils_hmac) = 32),
  snils_present    boolean NOT NULL DEFAULT false,
  snils_valid      boolean NOT NULL DEFAULT false,
  -- Normalised forms (src/matching/normalize.ts) so matching compares like with like in SQL too.
  norm_last_name   text NOT NULL,
  norm_first_name  text NOT NULL,
  norm_middle_name text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (snils_present = (snils_hmac IS NOT NULL)),
  CHECK (snils_present OR NOT snils_valid)
);
CREATE INDEX journal_users_snils_idx ON journal_users (snils_hmac) WHERE snils_hmac IS NOT NULL;
CREATE INDEX journal_users_org_role_idx ON journal_users (organization_id, role);
CREATE INDEX journal_users_names_idx ON journal_users (norm_last_name, norm_first_name, birth_date);

CREATE TABLE journal_user_relations (
  parent_id text NOT NULL REFERENCES journal_users (id) ON DELETE CASCADE,
  child_id  text NOT NULL REFERENCES journal_users (id) ON DELETE CASCADE,
  PRIMARY KEY (parent_id, child_id),
  CHECK (parent_id <> child_id)
);
CREATE INDEX journal_user_relations_child_idx ON journal_user_relations (child_id);

-- Links: one journal user → at most one upstream subject; one subject → many journal users, but
-- never two in the same organisation and role (docs/architecture.md, «Where state lives»).
CREATE TABLE links (
  journal_user_id  text PRIMARY KEY REFERENCES journal_users (id) ON DELETE RESTRICT,
  upstream_subject text NOT NULL,
  -- Copies of the card's organisation and role, kept in step by a trigger, so the rule above is a
  -- plain unique constraint that holds under concurrency.
  organization_id  text NOT NULL,
  role             text NOT NULL,
  method           text NOT NULL CHECK (method IN ('link', 'auto', 'support_override', 'support_move')),
  evidence         text[] NOT NULL DEFAULT '{}',
  mismatches       text[] NOT NULL DEFAULT '{}',
  trusted          boolean,
  level            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_login_at    timestamptz,
  UNIQUE (upstream_subject, organization_id, role)
);

CREATE FUNCTION links_follow_card() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE links SET organization_id = NEW.organization_id, role = NEW.role WHERE journal_user_id = NEW.id;
  RETURN NEW;
END $$;
CREATE TRIGGER journal_users_links_follow
  AFTER UPDATE OF organization_id, role ON journal_users
  FOR EACH ROW
  WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id OR OLD.role IS DISTINCT FROM NEW.role)
  EXECUTE FUNCTION links_follow_card();

-- Audit trail (152-ФЗ ст. 19 ч. 2 п. 8): every link change and support action. No names, no SNILS.
CREATE TABLE audit_events (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at               timestamptz NOT NULL DEFAULT now(),
  type             text NOT NULL,
  actor_kind       text NOT NULL CHECK (actor_kind IN ('person', 'support', 'journal', 'system')),
  actor_id         text,
  journal_user_id  text,
  organization_id  text,
  upstream_subject text,
  reason           text,
  details          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at_idx ON audit_events (at DESC);
CREATE INDEX audit_events_user_idx ON audit_events (journal_user_id, at DESC) WHERE journal_user_id IS NOT NULL;
CREATE INDEX audit_events_org_idx ON audit_events (organization_id, at DESC) WHERE organization_id IS NOT NULL;
CREATE INDEX audit_events_type_idx ON audit_events (type, at DESC);

-- Failed link/login attempts, with the ЕСИА-side names so support can fix the card; purged after
-- FAILED_ATTEMPT_RETENTION_DAYS. SNILS only as HMAC.
CREATE TABLE failed_attempts (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at                 timestamptz NOT NULL DEFAULT now(),
  flow               text NOT NULL CHECK (flow IN ('link', 'login')),
  journal_user_id    text,
  organization_id    text,
  upstream_subject   text,
  reasons            text[] NOT NULL,
  trusted            boolean,
  level              text,
  person_last_name   text,
  person_first_name  text,
  person_middle_name text,
  person_birth_date  date,
  person_snils_hmac  bytea,
  details            jsonb NOT NULL DEFAULT '{}',
  resolved_at        timestamptz,
  resolved_by        text
);
CREATE INDEX failed_attempts_at_idx ON failed_attempts (at);
CREATE INDEX failed_attempts_org_idx ON failed_attempts (organization_id, at DESC);
CREATE INDEX failed_attempts_user_idx ON failed_attempts (journal_user_id) WHERE journal_user_id IS NOT NULL;

-- Down Migration
DROP TABLE failed_attempts;
DROP TABLE audit_events;
DROP TRIGGER journal_users_links_follow ON journal_users;
DROP TABLE links;
DROP FUNCTION links_follow_card();
DROP TABLE journal_user_relations;
DROP TABLE journal_users;
DROP TABLE organizations;
