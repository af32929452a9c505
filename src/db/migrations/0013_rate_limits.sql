-- Up Migration

-- Request counts of @fastify/rate-limit, shared by every instance of the bridge
-- (src/http/rate-limit-store.ts): one row per route, client key and fixed window, added to in
-- batches. UNLOGGED: counters of the last minute are not worth WAL, and after a crash or a
-- failover they simply start again from zero. Keyed by the window's end first, so expired windows
-- go in one range delete.
CREATE UNLOGGED TABLE rate_limit_hits (
  window_end timestamptz NOT NULL,
  bucket     text NOT NULL,
  hits       integer NOT NULL,
  PRIMARY KEY (window_end, bucket)
);

-- Down Migration
DROP TABLE rate_limit_hits;
