-- Up Migration

-- The bridge as an OpenID provider for journals (docs/architecture.md): its signing keys, the link
-- hand-off from a journal, our own upstream transactions, and the codes and tokens we issue.

-- ES256 keys that sign link tokens and ID tokens. `kid` is the JWK thumbprint. Rotation follows
-- panva's order (docs/decisions/0010-small-hand-written-parts.md): a new key is published at once and signs only from
-- `activates_at` (later than any verifier's JWKS cache), the old one stops signing at `retires_at`
-- and stays published until `expires_at` (its last token expired, plus the cache time).
CREATE TABLE signing_keys (
  kid             text PRIMARY KEY,
  alg             text NOT NULL CHECK (alg = 'ES256'),
  public_jwk      jsonb NOT NULL,
  -- Private JWK as a compact JWE (dir + A256GCM) under a key derived from KEYS_ENCRYPTION_KEY, with
  -- the kid in its protected header: a database dump alone cannot sign.
  private_jwk_jwe text NOT NULL,
  created_at      timestamptz NOT NULL,
  activates_at    timestamptz NOT NULL,
  retires_at      timestamptz,
  expires_at      timestamptz,
  CHECK (retires_at IS NULL OR retires_at >= activates_at),
  CHECK ((retires_at IS NULL) = (expires_at IS NULL))
);

-- A journal's request to link one of its users (docs/architecture.md, «How a link travels»): single use, 10 minutes, bound
-- to the first browser that opens it (app-initiated linking must be bound to the
-- app's session, docs/security.md, «Controls, by area»). `outcome` holds the link token claims from the moment the flow
-- ended until the person goes back to the journal (`returned_at`), so a failure page can be read
-- at leisure and the code is minted only when the person leaves.
CREATE TABLE link_intents (
  id              text PRIMARY KEY,
  client_id       text NOT NULL,
  journal_user_id text NOT NULL REFERENCES journal_users (id) ON DELETE CASCADE,
  redirect_uri    text NOT NULL,
  client_state    text NOT NULL,
  browser_hash    bytea CHECK (browser_hash IS NULL OR length(browser_hash) = 32),
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  consumed_at     timestamptz,
  outcome         jsonb,
  returned_at     timestamptz,
  CHECK ((consumed_at IS NULL) = (outcome IS NULL)),
  CHECK (returned_at IS NULL OR consumed_at IS NOT NULL)
);
CREATE INDEX link_intents_expires_idx ON link_intents (expires_at);
CREATE INDEX link_intents_user_idx ON link_intents (journal_user_id);

-- Our transaction with the upstream IdP (docs/security.md, «Controls, by area»): state, nonce and PKCE verifier kept
-- server-side, bound to the browser, consumed once with DELETE … RETURNING.
CREATE TABLE flow_states (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind              text NOT NULL CHECK (kind IN ('link', 'login')),
  browser_hash      bytea NOT NULL CHECK (length(browser_hash) = 32),
  upstream_state    text NOT NULL UNIQUE,
  nonce             text NOT NULL,
  code_verifier     text,
  link_intent_id    text REFERENCES link_intents (id) ON DELETE CASCADE,
  -- The journal's /oauth2/authorize request, for the login flow to answer when it comes back.
  authorize_request jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL,
  CHECK ((kind = 'link') = (link_intent_id IS NOT NULL))
);
CREATE INDEX flow_states_expires_idx ON flow_states (expires_at);

-- Authorization codes we hand to journals: only the SHA-256 is stored; bound to client and
-- redirect_uri; 60 seconds; `used_at` set once, and a second use revokes what the first issued
-- (RFC 6749 §4.1.2).
CREATE TABLE authorization_codes (
  code_hash       bytea PRIMARY KEY CHECK (length(code_hash) = 32),
  kind            text NOT NULL CHECK (kind IN ('link', 'login')),
  client_id       text NOT NULL,
  redirect_uri    text NOT NULL,
  journal_user_id text NOT NULL,
  code_challenge  text,
  nonce           text,
  payload         jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);

-- Opaque access tokens for /oauth2/userinfo, stored as SHA-256 with the claims they unlock.
CREATE TABLE access_tokens (
  token_hash      bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  client_id       text NOT NULL,
  journal_user_id text NOT NULL,
  claims          jsonb NOT NULL,
  code_hash       bytea NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL
);
CREATE INDEX access_tokens_code_idx ON access_tokens (code_hash);
CREATE INDEX access_tokens_expires_idx ON access_tokens (expires_at);

-- Down Migration
DROP TABLE access_tokens;
DROP TABLE authorization_codes;
DROP TABLE flow_states;
DROP TABLE link_intents;
DROP TABLE signing_keys;
