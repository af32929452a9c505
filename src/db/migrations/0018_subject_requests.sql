-- Up Migration

-- A person's requests about their data (152-ФЗ ст. 14, 21; docs/personal-data.md) and the record of
-- every destruction of personal data (Приказ Роскомнадзора № 179 от 28.10.2022: the act and the
-- log extract say which categories, how many records, when, by whom, why).
--
-- One row per destruction: an erasure on a person's request (`basis = request`, with the request's
-- number and date) or a purge at the end of a retention period (`basis = retention`). The row never
-- names the person: `subject_token` is the keyed pseudonym the audit trail uses for them
-- (src/subjects/pseudonym.ts), and the request itself, with the name, stays with the operator's
-- paperwork under its number.
CREATE TABLE destruction_records (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT now(),
  basis          text NOT NULL CHECK (basis IN ('request', 'retention')),
  actor_kind     text NOT NULL CHECK (actor_kind IN ('support', 'system')),
  actor_id       text,
  subject_token  text,
  request_number text CHECK (request_number IS NULL OR length(request_number) BETWEEN 1 AND 100),
  request_date   date,
  reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  -- [{ "category": code, "action": "deleted" | "pseudonymised", "count": n }]
  categories     jsonb NOT NULL,
  total          integer NOT NULL CHECK (total >= 0),
  CHECK ((basis = 'request') = (request_number IS NOT NULL AND request_date IS NOT NULL AND subject_token IS NOT NULL))
);
CREATE INDEX destruction_records_at_idx ON destruction_records (at DESC);

-- AUDIT_RETENTION_DAYS: after it an audit row keeps who acted and what was done, and the person it
-- named becomes a pseudonym; `pseudonymised_at` marks rows done (by that purge or by an erasure), so
-- the purge reads only the rows still to do.
ALTER TABLE audit_events ADD COLUMN pseudonymised_at timestamptz;
CREATE INDEX audit_events_retention_idx ON audit_events (at) WHERE pseudonymised_at IS NULL;

-- A person's report and erasure find the audit rows naming them by any of their identifiers: the
-- card (audit_events_user_idx), the ЕСИА subject, and the detail keys that name another card or a
-- replaced subject (src/subjects/pseudonym.ts), each through an index, so a region's trail of
-- millions of rows is not read whole for one person.
CREATE INDEX audit_events_subject_idx ON audit_events (upstream_subject) WHERE upstream_subject IS NOT NULL;
CREATE INDEX audit_events_moved_to_idx ON audit_events ((details->>'moved_to')) WHERE details->>'moved_to' IS NOT NULL;
CREATE INDEX audit_events_moved_from_idx ON audit_events ((details->>'moved_from')) WHERE details->>'moved_from' IS NOT NULL;
CREATE INDEX audit_events_previous_subject_idx ON audit_events ((details->>'previous_subject')) WHERE details->>'previous_subject' IS NOT NULL;
-- The same for the failed attempts and guardian checks of a person known by ЕСИА account or SNILS
-- (the card ids are indexed already): guardian_checks grows with the region's directory.
CREATE INDEX failed_attempts_subject_idx ON failed_attempts (upstream_subject) WHERE upstream_subject IS NOT NULL;
CREATE INDEX failed_attempts_snils_idx ON failed_attempts (person_snils_hmac) WHERE person_snils_hmac IS NOT NULL;
CREATE INDEX guardian_checks_subject_idx ON guardian_checks (upstream_subject);
CREATE INDEX guardian_checks_esia_snils_idx ON guardian_checks (esia_snils_hmac) WHERE esia_snils_hmac IS NOT NULL;

-- Down Migration
DROP INDEX guardian_checks_esia_snils_idx;
DROP INDEX guardian_checks_subject_idx;
DROP INDEX failed_attempts_snils_idx;
DROP INDEX failed_attempts_subject_idx;
DROP INDEX audit_events_previous_subject_idx;
DROP INDEX audit_events_moved_from_idx;
DROP INDEX audit_events_moved_to_idx;
DROP INDEX audit_events_subject_idx;
DROP INDEX audit_events_retention_idx;
ALTER TABLE audit_events DROP COLUMN pseudonymised_at;
DROP TABLE destruction_records;
