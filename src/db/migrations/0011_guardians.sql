-- Up Migration

-- Guardians confirmed by Госуслуги (src/guardians/checks.ts, docs/matching.md «Children»): for each
-- parent → child pair of the journal, what ЕСИА's list of the parent's children said the last time
-- it was compared. A row belongs to the ЕСИА account it was checked with: when the parent card is
-- linked to another account, the row no longer counts and the next check overwrites it.
--
-- Of ЕСИА's side only what support needs to settle a mismatch is kept — the birth date when the
-- dates differ, the SNILS as its HMAC when the numbers differ — and only for the failed attempts'
-- retention (FAILED_ATTEMPT_RETENTION_DAYS; purgeGuardianEvidence, with a `data.destroyed` event).
-- Never a child's name as ЕСИА writes it, never a SNILS in clear.
CREATE TABLE guardian_checks (
  parent_id        text NOT NULL,
  child_id         text NOT NULL,
  upstream_subject text NOT NULL,
  state            text NOT NULL CHECK (state IN ('confirmed', 'mismatch', 'not_in_esia', 'unchecked')),
  -- For `mismatch`: `mismatch:<field>` (both sides have it, it differs) and `missing:<field>`
  -- (a side lacks it, so the relation cannot be confirmed). Field names, never values.
  reasons          text[] NOT NULL DEFAULT '{}',
  esia_birth_date  date,
  esia_snils_hmac  bytea CHECK (esia_snils_hmac IS NULL OR length(esia_snils_hmac) = 32),
  checked_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (parent_id, child_id),
  -- The check goes with the relation (the journal removed the child, or deleted a card).
  FOREIGN KEY (parent_id, child_id) REFERENCES journal_user_relations (parent_id, child_id) ON DELETE CASCADE,
  CHECK ((state = 'mismatch') = (cardinality(reasons) > 0)),
  CHECK (state = 'mismatch' OR (esia_birth_date IS NULL AND esia_snils_hmac IS NULL))
);
-- A child's card: which parents are confirmed.
CREATE INDEX guardian_checks_child_idx ON guardian_checks (child_id);
-- The purge of ЕСИА's side after the retention period.
CREATE INDEX guardian_checks_evidence_idx ON guardian_checks (checked_at) WHERE esia_birth_date IS NOT NULL OR esia_snils_hmac IS NOT NULL;

-- A login waiting on the chooser keeps whether the journal asked for scope `children`.
ALTER TABLE pending_logins ADD COLUMN children boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE pending_logins DROP COLUMN children;
DROP TABLE guardian_checks;
