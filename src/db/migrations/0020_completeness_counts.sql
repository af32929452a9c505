-- Up Migration

-- «Контроль заполнения данных» kept as counts (docs/directory.md, «How the report stays fast»).
-- Counting the cards when the report is asked reads every card of its scope: on a region of
-- 2 000 000 cards that is seconds for the whole directory and a large school, whatever the indexes.
-- So the database keeps the counts itself, in the transaction that changes a card or a relation:
-- statement-level triggers on journal_users and journal_user_relations add what each statement
-- changed (the API's single cards, the console, the demo seed, a person's data erased), and an
-- import recounts the organisations it touched at its end (completeness_refresh). The report then
-- reads one row per organisation and role.
--
-- The problem definitions here are the ones of src/directory/completeness.ts (PROBLEM_SQL);
-- test/directory/completeness-counts.test.ts compares the two after every kind of change.

-- One row per organisation and role that has (or had) cards. with_problems is not a column: a card
-- with a shared SNILS and nothing else wrong is counted from shared_snils_groups.
CREATE TABLE completeness_counts (
  organization_id     text NOT NULL,
  role                text NOT NULL,
  total               integer NOT NULL DEFAULT 0,
  without_snils       integer NOT NULL DEFAULT 0,
  invalid_snils       integer NOT NULL DEFAULT 0,
  without_birth_date  integer NOT NULL DEFAULT 0,
  without_middle_name integer NOT NULL DEFAULT 0,
  -- Cards with at least one of the four problems above.
  own_problems        integer NOT NULL DEFAULT 0,
  -- The journal says the person has no patronymic: shown, not a problem.
  no_middle_name      integer NOT NULL DEFAULT 0,
  -- Cards that are a parent in some relation, and cards that are a child in some relation.
  with_children       integer NOT NULL DEFAULT 0,
  with_parents        integer NOT NULL DEFAULT 0,
  PRIMARY KEY (organization_id, role)
);

-- A SNILS held by more than one card of the same organisation and role (what makes matching
-- ambiguous), with how many of those cards have a problem of their own. Small: only repeats.
CREATE TABLE shared_snils_groups (
  organization_id text NOT NULL,
  role            text NOT NULL,
  snils_hmac      bytea NOT NULL,
  holders         integer NOT NULL CHECK (holders > 1),
  with_own        integer NOT NULL,
  PRIMARY KEY (organization_id, role, snils_hmac)
);

CREATE FUNCTION card_lacks_middle_name(c journal_users) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT c.norm_middle_name IS NULL AND NOT c.no_middle_name $$;

-- A card's own problem (not the shared SNILS): without or with an invalid SNILS, birth date or
-- patronymic. A missing SNILS is never valid (journal_users' CHECK), so NOT snils_valid covers both.
CREATE FUNCTION card_has_own_problem(c journal_users) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT NOT c.snils_valid OR c.birth_date IS NULL OR card_lacks_middle_name(c) $$;

-- How the triggers work in this transaction: 'live' (the default) keeps the counts statement by
-- statement; an import sets 'deferred' (only note the organisations touched, in its temporary
-- table completeness_dirty, and recount them at the end) or, into an empty directory, 'all'
-- (note nothing, recount everything at the end).
-- Anything else than those two — unset, empty, mistyped — is 'live', for every trigger alike.
CREATE FUNCTION completeness_mode() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT CASE WHEN m IN ('all', 'deferred') THEN m ELSE 'live' END FROM (SELECT current_setting('esia_bridge.completeness', true) AS m) s $$;

-- Locks the count rows of the given (organisation, role) pairs, creating missing ones, in key
-- order so that two writers never wait for each other crosswise. Counting happens after this, in
-- a new statement, so it sees every change committed by whoever held these rows before.
CREATE FUNCTION completeness_lock(orgs text[], roles text[]) RETURNS void LANGUAGE sql AS $fn$
  INSERT INTO completeness_counts (organization_id, role)
  SELECT DISTINCT o, r FROM unnest(orgs, roles) p (o, r) ORDER BY 1, 2 ON CONFLICT DO NOTHING;
  SELECT count(*) FROM (SELECT 1 FROM completeness_counts c
    WHERE (c.organization_id, c.role) IN (SELECT o, r FROM unnest(orgs, roles) p (o, r))
    ORDER BY c.organization_id, c.role FOR UPDATE) l;
$fn$;

CREATE FUNCTION completeness_cards_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  mode text := completeness_mode();
  changed text;
  any_rows boolean;
  orgs text[];
  roles text[];
BEGIN
  IF mode = 'all' THEN RETURN NULL; END IF;
  -- Each card as it was (sign -1) and as it is (sign +1). An update that leaves every counted
  -- field alone — a name corrected — contributes nothing; a card whose id changed counts as both.
  changed := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT n::journal_users AS c, 1 AS sign FROM new_cards n'
    WHEN 'DELETE' THEN 'SELECT o::journal_users AS c, -1 AS sign FROM old_cards o'
    ELSE 'SELECT x.c, x.sign FROM old_cards o FULL JOIN new_cards n ON n.id = o.id
            CROSS JOIN LATERAL (VALUES (o::journal_users, -1), (n::journal_users, 1)) x (c, sign)
          WHERE (x.c).id IS NOT NULL
            AND (o.id IS NULL OR n.id IS NULL
              OR (o.organization_id, o.role, o.snils_hmac, o.snils_valid, o.birth_date IS NULL, o.norm_middle_name IS NULL, o.no_middle_name)
                 IS DISTINCT FROM (n.organization_id, n.role, n.snils_hmac, n.snils_valid, n.birth_date IS NULL, n.norm_middle_name IS NULL, n.no_middle_name))'
  END;
  EXECUTE format('SELECT EXISTS (%s)', changed) INTO any_rows;
  IF NOT any_rows THEN RETURN NULL; END IF;

  IF mode = 'deferred' THEN
    EXECUTE format('INSERT INTO pg_temp.completeness_dirty (organization_id)
      SELECT DISTINCT (d.c).organization_id FROM (%s) d ON CONFLICT DO NOTHING', changed);
    RETURN NULL;
  END IF;

  EXECUTE format('SELECT array_agg((d.c).organization_id), array_agg((d.c).role) FROM (%s) d', changed) INTO orgs, roles;
  PERFORM completeness_lock(orgs, roles);

  -- A card that moves (organisation or role) takes its relations' counts along; a new card has
  -- none yet, and a deleted one had them removed just before (completeness_card_leaving).
  EXECUTE format($q$
    UPDATE completeness_counts k SET
      total = k.total + d.total, without_snils = k.without_snils + d.without_snils,
      invalid_snils = k.invalid_snils + d.invalid_snils, without_birth_date = k.without_birth_date + d.without_birth_date,
      without_middle_name = k.without_middle_name + d.without_middle_name, own_problems = k.own_problems + d.own_problems,
      no_middle_name = k.no_middle_name + d.no_middle_name,
      with_children = k.with_children + d.with_children, with_parents = k.with_parents + d.with_parents
    FROM (
      SELECT (x.c).organization_id, (x.c).role, sum(x.sign)::int AS total,
        coalesce(sum(x.sign) FILTER (WHERE NOT (x.c).snils_present), 0)::int AS without_snils,
        coalesce(sum(x.sign) FILTER (WHERE (x.c).snils_present AND NOT (x.c).snils_valid), 0)::int AS invalid_snils,
        coalesce(sum(x.sign) FILTER (WHERE (x.c).birth_date IS NULL), 0)::int AS without_birth_date,
        coalesce(sum(x.sign) FILTER (WHERE card_lacks_middle_name(x.c)), 0)::int AS without_middle_name,
        coalesce(sum(x.sign) FILTER (WHERE card_has_own_problem(x.c)), 0)::int AS own_problems,
        coalesce(sum(x.sign) FILTER (WHERE (x.c).no_middle_name), 0)::int AS no_middle_name,
        coalesce(sum(x.sign) FILTER (WHERE EXISTS (SELECT 1 FROM journal_user_relations r WHERE r.parent_id = (x.c).id)), 0)::int AS with_children,
        coalesce(sum(x.sign) FILTER (WHERE EXISTS (SELECT 1 FROM journal_user_relations r WHERE r.child_id = (x.c).id)), 0)::int AS with_parents
      FROM (%s) x GROUP BY 1, 2
    ) d
    WHERE k.organization_id = d.organization_id AND k.role = d.role$q$, changed);

  -- The SNILS groups these cards left or joined, counted again from the cards.
  EXECUTE format($q$
    WITH touched AS (
      SELECT DISTINCT (x.c).organization_id, (x.c).role, (x.c).snils_hmac FROM (%s) x WHERE (x.c).snils_hmac IS NOT NULL
    ), now AS (
      SELECT t.organization_id, t.role, t.snils_hmac, g.holders, g.with_own
      FROM touched t CROSS JOIN LATERAL (
        SELECT count(*)::int AS holders, count(*) FILTER (WHERE card_has_own_problem(u))::int AS with_own
        FROM journal_users u WHERE u.snils_hmac = t.snils_hmac AND u.organization_id = t.organization_id AND u.role = t.role
      ) g
    ), gone AS (
      DELETE FROM shared_snils_groups s USING now
      WHERE now.holders < 2 AND s.organization_id = now.organization_id AND s.role = now.role AND s.snils_hmac = now.snils_hmac
    )
    INSERT INTO shared_snils_groups (organization_id, role, snils_hmac, holders, with_own)
    SELECT organization_id, role, snils_hmac, holders, with_own FROM now WHERE holders > 1
    ON CONFLICT (organization_id, role, snils_hmac) DO UPDATE SET holders = EXCLUDED.holders, with_own = EXCLUDED.with_own$q$, changed);
  RETURN NULL;
END $fn$;

CREATE FUNCTION completeness_relations_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  mode text := completeness_mode();
  rel text;
  sides text;
  any_rows boolean;
  settled boolean;
  orgs text[];
  roles text[];
BEGIN
  IF mode = 'all' THEN RETURN NULL; END IF;
  rel := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT parent_id, child_id, 1 AS sign FROM new_relations'
    WHEN 'DELETE' THEN 'SELECT parent_id, child_id, -1 AS sign FROM old_relations'
    ELSE 'SELECT parent_id, child_id, 1 AS sign FROM new_relations UNION ALL SELECT parent_id, child_id, -1 FROM old_relations'
  END;
  EXECUTE format('SELECT EXISTS (%s)', rel) INTO any_rows;
  IF NOT any_rows THEN RETURN NULL; END IF;
  -- Each card on either side, and how many of its relations on that side this statement added.
  sides := format('SELECT parent_id AS id, true AS as_parent, sum(sign)::int AS added FROM (%1$s) r GROUP BY 1
    UNION ALL SELECT child_id, false, sum(sign)::int FROM (%1$s) r GROUP BY 1', rel);

  IF mode = 'deferred' THEN
    -- A card deleted in this statement is gone from journal_users; the card trigger noted its organisation.
    EXECUTE format('INSERT INTO pg_temp.completeness_dirty (organization_id)
      SELECT DISTINCT u.organization_id FROM (%s) s JOIN journal_users u ON u.id = s.id ON CONFLICT DO NOTHING', sides);
    RETURN NULL;
  END IF;

  -- The count rows of where the cards are, locked; then read again: a card that moved meanwhile
  -- had its mover hold those rows until it committed, so the second read sees where it is now, and
  -- its rows are locked too. Once every card is where its rows are locked, it cannot move until
  -- this transaction ends (a mover must lock them first). No lock on the cards themselves: that
  -- would make the journal's relation writes wait behind an import, or deadlock with a deletion.
  LOOP
    EXECUTE format('SELECT array_agg(u.organization_id), array_agg(u.role) FROM journal_users u WHERE u.id IN (SELECT id FROM (%s) s)', sides) INTO orgs, roles;
    PERFORM completeness_lock(orgs, roles);
    EXECUTE format('SELECT bool_and((u.organization_id, u.role) IN (SELECT o, r FROM unnest($1::text[], $2::text[]) p (o, r)))
      FROM journal_users u WHERE u.id IN (SELECT id FROM (%s) s)', sides) INTO settled USING orgs, roles;
    EXIT WHEN settled IS NOT FALSE;
  END LOOP;
  EXECUTE format($q$
    UPDATE completeness_counts k SET with_children = k.with_children + d.with_children, with_parents = k.with_parents + d.with_parents
    FROM (
      SELECT u.organization_id, u.role,
        coalesce(sum(ch.change) FILTER (WHERE s.as_parent), 0)::int AS with_children,
        coalesce(sum(ch.change) FILTER (WHERE NOT s.as_parent), 0)::int AS with_parents
      FROM (%s) s
      JOIN journal_users u ON u.id = s.id
      CROSS JOIN LATERAL (
        SELECT CASE WHEN s.as_parent THEN (SELECT count(*) FROM journal_user_relations r WHERE r.parent_id = s.id)
                    ELSE (SELECT count(*) FROM journal_user_relations r WHERE r.child_id = s.id) END AS now
      ) n
      CROSS JOIN LATERAL (SELECT (n.now > 0)::int - (n.now - s.added > 0)::int AS change) ch
      GROUP BY 1, 2
    ) d
    WHERE k.organization_id = d.organization_id AND k.role = d.role$q$, sides);
  RETURN NULL;
END $fn$;

-- A card's relations leave before the card does, while the card can still say where it belongs:
-- the foreign keys' cascade would remove them after it, when nobody knows its organisation.
CREATE FUNCTION completeness_card_leaving() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF completeness_mode() = 'live'
     AND EXISTS (SELECT 1 FROM journal_user_relations WHERE parent_id = OLD.id OR child_id = OLD.id) THEN
    DELETE FROM journal_user_relations WHERE parent_id = OLD.id OR child_id = OLD.id;
  END IF;
  RETURN OLD;
END $fn$;

-- Counts every card of the given organisations again (NULL: all), after locking their rows.
CREATE FUNCTION completeness_refresh(orgs text[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  pair_orgs text[];
  pair_roles text[];
BEGIN
  SELECT array_agg(organization_id), array_agg(role) INTO pair_orgs, pair_roles FROM (
    SELECT DISTINCT organization_id, role FROM journal_users WHERE orgs IS NULL OR organization_id = ANY (orgs)
    UNION SELECT organization_id, role FROM completeness_counts WHERE orgs IS NULL OR organization_id = ANY (orgs)) p;
  PERFORM completeness_lock(pair_orgs, pair_roles);
  WITH cards AS (
    SELECT u.organization_id, u.role, u.snils_present, u.snils_valid, u.birth_date IS NULL AS without_birth_date,
      card_lacks_middle_name(u) AS without_middle_name, card_has_own_problem(u) AS own, u.no_middle_name,
      u.id IN (SELECT parent_id FROM journal_user_relations) AS has_children,
      u.id IN (SELECT child_id FROM journal_user_relations) AS has_parents
    FROM journal_users u WHERE orgs IS NULL OR u.organization_id = ANY (orgs)
  ), fresh AS (
    SELECT organization_id, role, count(*)::int AS total,
      count(*) FILTER (WHERE NOT snils_present)::int AS without_snils,
      count(*) FILTER (WHERE snils_present AND NOT snils_valid)::int AS invalid_snils,
      count(*) FILTER (WHERE without_birth_date)::int AS without_birth_date,
      count(*) FILTER (WHERE without_middle_name)::int AS without_middle_name,
      count(*) FILTER (WHERE own)::int AS own_problems,
      count(*) FILTER (WHERE no_middle_name)::int AS no_middle_name,
      count(*) FILTER (WHERE has_children)::int AS with_children,
      count(*) FILTER (WHERE has_parents)::int AS with_parents
    FROM cards GROUP BY 1, 2
  )
  UPDATE completeness_counts k SET
    total = coalesce(f.total, 0), without_snils = coalesce(f.without_snils, 0), invalid_snils = coalesce(f.invalid_snils, 0),
    without_birth_date = coalesce(f.without_birth_date, 0), without_middle_name = coalesce(f.without_middle_name, 0),
    own_problems = coalesce(f.own_problems, 0), no_middle_name = coalesce(f.no_middle_name, 0),
    with_children = coalesce(f.with_children, 0), with_parents = coalesce(f.with_parents, 0)
  FROM completeness_counts o LEFT JOIN fresh f ON f.organization_id = o.organization_id AND f.role = o.role
  WHERE (orgs IS NULL OR o.organization_id = ANY (orgs)) AND k.organization_id = o.organization_id AND k.role = o.role;

  DELETE FROM shared_snils_groups WHERE orgs IS NULL OR organization_id = ANY (orgs);
  INSERT INTO shared_snils_groups (organization_id, role, snils_hmac, holders, with_own)
  SELECT u.organization_id, u.role, u.snils_hmac, count(*)::int, count(*) FILTER (WHERE card_has_own_problem(u))::int
  FROM journal_users u WHERE u.snils_hmac IS NOT NULL AND (orgs IS NULL OR u.organization_id = ANY (orgs))
  GROUP BY 1, 2, 3 HAVING count(*) > 1;
END $fn$;

-- TRUNCATE fires no row or statement trigger of the kinds above: a hand-run TRUNCATE (a test
-- database, a region starting over) empties the counts with the tables.
CREATE FUNCTION completeness_truncated() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_TABLE_NAME = 'journal_users' THEN
    DELETE FROM completeness_counts;
    DELETE FROM shared_snils_groups;
  ELSE
    UPDATE completeness_counts SET with_children = 0, with_parents = 0 WHERE with_children <> 0 OR with_parents <> 0;
  END IF;
  RETURN NULL;
END $fn$;

CREATE TRIGGER completeness_cards_inserted AFTER INSERT ON journal_users
  REFERENCING NEW TABLE AS new_cards FOR EACH STATEMENT EXECUTE FUNCTION completeness_cards_changed();
CREATE TRIGGER completeness_cards_updated AFTER UPDATE ON journal_users
  REFERENCING OLD TABLE AS old_cards NEW TABLE AS new_cards FOR EACH STATEMENT EXECUTE FUNCTION completeness_cards_changed();
CREATE TRIGGER completeness_cards_deleted AFTER DELETE ON journal_users
  REFERENCING OLD TABLE AS old_cards FOR EACH STATEMENT EXECUTE FUNCTION completeness_cards_changed();
CREATE TRIGGER completeness_card_leaving BEFORE DELETE ON journal_users
  FOR EACH ROW EXECUTE FUNCTION completeness_card_leaving();
CREATE TRIGGER completeness_relations_inserted AFTER INSERT ON journal_user_relations
  REFERENCING NEW TABLE AS new_relations FOR EACH STATEMENT EXECUTE FUNCTION completeness_relations_changed();
CREATE TRIGGER completeness_relations_updated AFTER UPDATE ON journal_user_relations
  REFERENCING OLD TABLE AS old_relations NEW TABLE AS new_relations FOR EACH STATEMENT EXECUTE FUNCTION completeness_relations_changed();
CREATE TRIGGER completeness_relations_deleted AFTER DELETE ON journal_user_relations
  REFERENCING OLD TABLE AS old_relations FOR EACH STATEMENT EXECUTE FUNCTION completeness_relations_changed();

CREATE TRIGGER completeness_cards_truncated AFTER TRUNCATE ON journal_users
  FOR EACH STATEMENT EXECUTE FUNCTION completeness_truncated();
CREATE TRIGGER completeness_relations_truncated AFTER TRUNCATE ON journal_user_relations
  FOR EACH STATEMENT EXECUTE FUNCTION completeness_truncated();

-- The directory as it stands.
SELECT completeness_refresh(NULL);

-- Down Migration
DROP TRIGGER completeness_relations_truncated ON journal_user_relations;
DROP TRIGGER completeness_cards_truncated ON journal_users;
DROP TRIGGER completeness_relations_deleted ON journal_user_relations;
DROP TRIGGER completeness_relations_updated ON journal_user_relations;
DROP TRIGGER completeness_relations_inserted ON journal_user_relations;
DROP TRIGGER completeness_card_leaving ON journal_users;
DROP TRIGGER completeness_cards_deleted ON journal_users;
DROP TRIGGER completeness_cards_updated ON journal_users;
DROP TRIGGER completeness_cards_inserted ON journal_users;
DROP FUNCTION completeness_truncated();
DROP FUNCTION completeness_refresh(text[]);
DROP FUNCTION completeness_card_leaving();
DROP FUNCTION completeness_relations_changed();
DROP FUNCTION completeness_cards_changed();
DROP FUNCTION completeness_lock(text[], text[]);
DROP FUNCTION completeness_mode();
DROP FUNCTION card_has_own_problem(journal_users);
DROP FUNCTION card_lacks_middle_name(journal_users);
DROP TABLE shared_snils_groups;
DROP TABLE completeness_counts;
