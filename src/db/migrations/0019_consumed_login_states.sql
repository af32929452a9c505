-- Up Migration

-- A login's transaction with the upstream no longer waits in a row while the person is at
-- Госуслуги: it travels in a sealed cookie, and the state sent to ЕСИА says by itself that we
-- issued it and when (src/flows/login-state.ts, docs/decisions/0016-login-flow-state-in-a-sealed-cookie.md).
-- What stays server-side is the one fact a cookie cannot hold: that a state has been used. The
-- callback's statement inserts the state here (ON CONFLICT DO NOTHING) together with the code, so
-- of two callbacks with the same state and cookie only the first gets anything.
--
-- A row is needed only while its state could still be accepted — until the state's expiry — and is
-- purged after. Unlogged like the other single-use login rows (0014): after a PostgreSQL crash the
-- table is empty, and a state consumed in the last ten minutes could be presented again with its
-- cookie; the upstream's code in it is spent by then, so ЕСИА refuses the exchange.
CREATE UNLOGGED TABLE consumed_login_states (
  state      uuid PRIMARY KEY,
  expires_at timestamptz NOT NULL
);

-- Down Migration
DROP TABLE consumed_login_states;
