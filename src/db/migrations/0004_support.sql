-- Up Migration

-- Support staff (docs/support.md): school and municipal administrators who fix what goes wrong.
-- `organization_ids` NULL means every organisation: required for admin, never for support, and
-- allowed for auditor (a municipal auditor reads all schools, writes nothing).
CREATE TABLE support_accounts (
  id               text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  login            text NOT NULL CHECK (login ~ '^[a-z0-9][a-z0-9._@-]{1,63}$'),
  role             text NOT NULL CHECK (role IN ('admin', 'support', 'auditor')),
  organization_ids text[],
  -- scrypt, self-describing: 'scrypt$<N>$<r>$<p>$<salt b64url>$<key b64url>' (per-account salt and
  -- parameters, so the cost can be raised later and old hashes upgraded at the next login).
  -- NULL: an account for automation that signs in only with API tokens.
  password_hash    text,
  disabled         boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  created_by       text,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  last_login_at    timestamptz,
  CHECK ((role = 'admin') = (organization_ids IS NULL) OR role = 'auditor'),
  CHECK (organization_ids IS NULL OR cardinality(organization_ids) > 0)
);
CREATE UNIQUE INDEX support_accounts_login_idx ON support_accounts (login);

-- API tokens for automation. Only SHA-256 of the token is kept: tokens are 256-bit random strings,
-- not passwords, so a fast hash suffices (same reasoning as journal client secrets).
CREATE TABLE support_api_tokens (
  id           text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  account_id   text NOT NULL REFERENCES support_accounts (id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  token_sha256 bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX support_api_tokens_account_idx ON support_api_tokens (account_id);

-- Console sessions: the cookie holds a random 256-bit id, the table only its SHA-256, so a read of
-- this table does not hand out live sessions. Idle expiry moves with `last_seen_at`; `expires_at`
-- is the absolute end (OWASP ASVS 5.0 V7.3).
CREATE TABLE support_sessions (
  id_sha256    bytea PRIMARY KEY CHECK (length(id_sha256) = 32),
  account_id   text NOT NULL REFERENCES support_accounts (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX support_sessions_account_idx ON support_sessions (account_id);
CREATE INDEX support_sessions_expires_idx ON support_sessions (expires_at);

-- Failed console logins, counted per login and per client address over a sliding window, in the
-- database so every instance sees the same count. `key` is 'login:<login>' or 'ip:<address>'.
CREATE TABLE support_login_failures (
  key text NOT NULL,
  at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX support_login_failures_key_idx ON support_login_failures (key, at);

-- A CSV uploaded in the console between its dry run and «Применить». The file holds SNILS in clear,
-- so it is kept only encrypted (AES-256-GCM under a key derived from KEYS_ENCRYPTION_KEY), for a
-- short time, and deleted when applied or expired.
CREATE TABLE support_pending_imports (
  id              text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  account_id      text NOT NULL REFERENCES support_accounts (id) ON DELETE CASCADE,
  organization_id text,
  file_name       text,
  options         jsonb NOT NULL DEFAULT '{}',
  encrypted       bytea NOT NULL,
  report          jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL
);
CREATE INDEX support_pending_imports_expires_idx ON support_pending_imports (expires_at);

-- Down Migration
DROP TABLE support_pending_imports;
DROP TABLE support_login_failures;
DROP TABLE support_sessions;
DROP TABLE support_api_tokens;
DROP TABLE support_accounts;
