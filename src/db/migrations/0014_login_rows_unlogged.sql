-- Up Migration

-- The single-use rows of a login live minutes at most: our transaction with the upstream while the
-- person is at Госуслуги and the pending chooser or failure page (10 minutes each), the code the
-- journal redeems (60 seconds) and the access token for /oauth2/userinfo (10 minutes). Unlogged,
-- they are written without WAL, so a returning login waits for one WAL flush — its code statement,
-- which also writes the link's last login and the audit event — instead of four; on a disk where a
-- flush takes milliseconds that is most of a login's wait (docs/performance.md, «Benchmarks»).
--
-- The price: after a PostgreSQL crash, or on a standby promoted after a failover, these tables are
-- empty. Whoever was in the middle of a login starts it again: the callback says the page expired,
-- a code not yet redeemed is refused as unknown, an earlier access token gets 401 at userinfo.
-- Nothing that must last is here: links, audit events and failed attempts stay logged, and a
-- clean restart keeps everything.
ALTER TABLE flow_states SET UNLOGGED;
ALTER TABLE pending_logins SET UNLOGGED;
ALTER TABLE authorization_codes SET UNLOGGED;
ALTER TABLE access_tokens SET UNLOGGED;

-- Down Migration
ALTER TABLE access_tokens SET LOGGED;
ALTER TABLE authorization_codes SET LOGGED;
ALTER TABLE pending_logins SET LOGGED;
ALTER TABLE flow_states SET LOGGED;
