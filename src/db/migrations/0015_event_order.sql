-- Up Migration

-- Delivery in order per journal user (src/events/outbox.ts claimDue): a pushed row waits while an
-- earlier pending row of the same client and kind concerns one of its journal users. Most events
-- concern one card, their `journal_user_id`; a support move concerns two, and an event of the card
-- the link moved to must neither overtake the move nor be overtaken by it. `ordered_with` names the
-- journal users a row is ordered with besides its own. Empty for every other row — which is also
-- what an instance of the previous release writes during a rolling upgrade.
ALTER TABLE event_outbox ADD COLUMN ordered_with text[] NOT NULL DEFAULT '{}';
CREATE INDEX event_outbox_order_keys_idx ON event_outbox USING gin ((ARRAY[journal_user_id] || ordered_with)) WHERE status = 'pending';
DROP INDEX event_outbox_order_idx;

-- The sender claims each journal endpoint's oldest due rows separately (a few per endpoint, so one
-- journal that does not answer holds few delivery slots): pending pushed rows per client and kind.
CREATE INDEX event_outbox_push_idx ON event_outbox (client_id, kind, id) WHERE status = 'pending' AND delivery = 'push';

-- Down Migration
DROP INDEX event_outbox_push_idx;
CREATE INDEX event_outbox_order_idx ON event_outbox (client_id, kind, journal_user_id, id) WHERE status = 'pending';
DROP INDEX event_outbox_order_keys_idx;
ALTER TABLE event_outbox DROP COLUMN ordered_with;
