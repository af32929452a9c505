-- Up Migration

-- Events to the journal (docs/architecture.md, «How an event travels»): link changes as Security
-- Event Tokens (RFC 8417) and OpenID Connect Back-Channel Logout 1.0 logout tokens, written to an
-- outbox in the transaction of the change they report and delivered from there by any instance.

-- Which journal clients receive what, as the running instances' CLIENTS_FILE says (src/events/
-- recipients.ts writes it at start). In the database, not in memory, so the statement that records
-- a link change can fan the event out to every recipient without knowing the clients itself.
CREATE TABLE event_recipients (
  client_id          text PRIMARY KEY,
  -- How the client takes Security Event Tokens: pushed to its events_endpoint (RFC 8935) or polled
  -- at /api/v1/events (RFC 8936); null: it takes none.
  sets               text CHECK (sets IN ('push', 'poll')),
  -- It registered a backchannel_logout_uri.
  backchannel_logout boolean NOT NULL DEFAULT false,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- One row per token to deliver to one client. Tokens are signed when sent (with the key that signs
-- then), so a row holds the claims' ingredients, never a signature; none of them is personal data:
-- journal user ids, organisation ids, codes and times (no names, SNILS or ЕСИА subject).
CREATE TABLE event_outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  jti             uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  client_id       text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('set', 'logout')),
  delivery        text NOT NULL CHECK (delivery IN ('push', 'poll')),
  -- The subject (sub_id of a SET, sub of a logout token) and the key of per-user ordering.
  journal_user_id text NOT NULL,
  -- The SET's event type URI, or the back-channel logout event.
  event_type      text NOT NULL,
  -- The event's members (a SET), or { "sid": … } (a logout token).
  data            jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- Set while one instance is sending the row: nobody else takes it until then (src/events/outbox.ts claimDue).
  leased_until    timestamptz,
  -- A pushed token is retried until then (72 hours), then given up and shown as failed.
  give_up_at      timestamptz NOT NULL DEFAULT now() + interval '72 hours',
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz,
  delivered_at    timestamptz,
  -- What the recipient said last: HTTP status, or `timeout` / `network_error`; a refusal's err and
  -- description (RFC 8935 §2.3), cut short.
  last_status     text,
  last_error      text,
  CHECK (kind = 'set' OR delivery = 'push'),
  CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);
-- The sender's question: which pushed tokens are due?
CREATE INDEX event_outbox_due_idx ON event_outbox (next_attempt_at) WHERE status = 'pending' AND delivery = 'push';
-- In order per journal user: a token waits while an earlier one for the same client and user is pending.
CREATE INDEX event_outbox_order_idx ON event_outbox (client_id, kind, journal_user_id, id) WHERE status = 'pending';
-- A poll answers with the client's oldest unacknowledged SETs.
CREATE INDEX event_outbox_poll_idx ON event_outbox (client_id, id) WHERE status = 'pending' AND delivery = 'poll';
-- The console's page of one journal, newest first, and the retention purge.
CREATE INDEX event_outbox_client_idx ON event_outbox (client_id, status, id);
CREATE INDEX event_outbox_created_idx ON event_outbox (created_at);

-- The bridge's login sessions as Back-Channel Logout 1.0 sees them: `sid` is in the ID token, and a
-- logout at the bridge, a support unlink or move, or a replaced link sends a logout token for each
-- of the journal user's sessions. Recorded (by the login's own statement, src/flows/login-record.ts)
-- only for clients that registered a backchannel_logout_uri; `browser_hash` is the browser's cookie
-- hash (src/flows/browser.ts), so /oauth2/logout ends this browser's sessions.
CREATE TABLE login_sessions (
  sid             text PRIMARY KEY,
  client_id       text NOT NULL,
  journal_user_id text NOT NULL,
  browser_hash    bytea CHECK (browser_hash IS NULL OR length(browser_hash) = 32),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_sessions_user_idx ON login_sessions (journal_user_id);
CREATE INDEX login_sessions_browser_idx ON login_sessions (browser_hash);
CREATE INDEX login_sessions_created_idx ON login_sessions (created_at);

-- Down Migration
DROP TABLE login_sessions;
DROP TABLE event_outbox;
DROP TABLE event_recipients;
