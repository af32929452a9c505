import type { PoolClient, Queryable } from '../db/pool.js'
import { cardForMatching, type MatchingCardRow } from '../matching/candidates.js'
import type { ChildVerdict, RelationState } from '../matching/children.js'
import type { JournalUserForMatching } from '../matching/types.js'
import { retentionRecordCte } from '../subjects/retention-record.js'

/**
 * The `guardian_checks` table (0011_guardians.sql): per parent → child relation of the journal,
 * what Госуслуги said when the parent's children were last compared with the journal's, with
 * which ЕСИА account, and when. This module owns its SQL; src/flows/guardians.ts decides when a
 * check runs, src/matching/children.ts what it concludes.
 *
 * A stored state counts only while it is still true of what it judged:
 * - it was made with the ЕСИА account the parent card is linked to now;
 * - a `confirmed` was made after the child's card last changed (a corrected name or date is
 *   compared again, never carried over).
 * Anything else reads as `unchecked`. `EFFECTIVE_STATE` is that rule, for every reader.
 */

/** The effective state of relation `r`, with check `g`, child card `c` and the parent's link `l` (LEFT JOINs). */
export const EFFECTIVE_STATE = `CASE
    WHEN g.state IS NULL OR l.upstream_subject IS NULL OR g.upstream_subject <> l.upstream_subject THEN 'unchecked'
    WHEN g.state = 'confirmed' AND g.checked_at < c.updated_at THEN 'unchecked'
    ELSE g.state END`

/** The check of relation `r` joined as the rule above needs it (`c` is the child card, `l` the parent's link). */
export const CHECK_JOINS = `JOIN journal_users c ON c.id = r.child_id
  LEFT JOIN links l ON l.journal_user_id = r.parent_id
  LEFT JOIN guardian_checks g ON g.parent_id = r.parent_id AND g.child_id = r.child_id`

/**
 * The claims of scope `children` for parent card `$parent` logged in by subject `$subject`: the
 * journal ids of the children Госуслуги confirmed (in id order) and, when any child was ever
 * compared with this account, `children_checked_at` (seconds). One index probe per relation; a
 * jsonb object to merge into the code's payload.
 */
export function childrenClaimsSql(parent: string, subject: string): string {
  return `(SELECT jsonb_build_object('children', coalesce(jsonb_agg(r.child_id ORDER BY r.child_id)
            FILTER (WHERE g.state = 'confirmed' AND g.checked_at >= c.updated_at), '[]'::jsonb))
          || CASE WHEN max(g.checked_at) FILTER (WHERE g.state <> 'unchecked') IS NULL THEN '{}'::jsonb
                  ELSE jsonb_build_object('children_checked_at', floor(extract(epoch FROM max(g.checked_at) FILTER (WHERE g.state <> 'unchecked')))::bigint) END
     FROM journal_user_relations r JOIN journal_users c ON c.id = r.child_id
     LEFT JOIN guardian_checks g ON g.parent_id = r.parent_id AND g.child_id = r.child_id AND g.upstream_subject = ${subject}
     WHERE r.parent_id = ${parent})`
}

/** A journal child of one of the subject's parent cards, as matching sees it. */
export interface SubjectChild {
  parentId: string
  parentOrganizationId: string
  child: JournalUserForMatching
}

interface ChildRow extends MatchingCardRow {
  parent_id: string
  parent_organization_id: string
}

/**
 * The journal's children of every parent card linked to `subject` (DESIGN: one person may be a
 * parent in several schools). On a transaction that just linked a card, that card is included.
 */
export async function childrenOfSubject(db: Queryable, subject: string): Promise<SubjectChild[]> {
  const { rows } = await db.query<ChildRow>(
    `SELECT r.parent_id, l.organization_id AS parent_organization_id, c.id, c.organization_id, c.role, c.norm_last_name, c.norm_first_name, c.norm_middle_name, c.birth_date, c.snils_hmac, c.snils_valid
     FROM links l JOIN journal_user_relations r ON r.parent_id = l.journal_user_id JOIN journal_users c ON c.id = r.child_id
     WHERE l.upstream_subject = $1 AND l.role = 'parent'
     ORDER BY r.parent_id, r.child_id`,
    [subject],
  )
  return rows.map((r) => ({ parentId: r.parent_id, parentOrganizationId: r.parent_organization_id, child: cardForMatching(r) }))
}

/** A verdict for one relation, as stored. */
export interface RelationVerdict extends Omit<ChildVerdict, 'journalUserId'> {
  parentId: string
  childId: string
}

/**
 * Stores a check's verdicts, all stamped with this moment and this account. Replaces what the
 * relation held, whichever account that was made with.
 */
export async function saveVerdicts(tx: PoolClient, subject: string, verdicts: readonly RelationVerdict[]): Promise<void> {
  if (verdicts.length === 0) return
  await tx.query(
    `INSERT INTO guardian_checks (parent_id, child_id, upstream_subject, state, reasons, esia_birth_date, esia_snils_hmac, checked_at)
     SELECT v.parent_id, v.child_id, $1, v.state, v.reasons, v.esia_birth_date, decode(v.esia_snils_hmac_hex, 'hex'), now()
     FROM jsonb_to_recordset($2::jsonb) AS v(parent_id text, child_id text, state text, reasons text[], esia_birth_date date, esia_snils_hmac_hex text)
     ON CONFLICT (parent_id, child_id) DO UPDATE SET upstream_subject = EXCLUDED.upstream_subject, state = EXCLUDED.state, reasons = EXCLUDED.reasons,
       esia_birth_date = EXCLUDED.esia_birth_date, esia_snils_hmac = EXCLUDED.esia_snils_hmac, checked_at = EXCLUDED.checked_at`,
    [
      subject,
      JSON.stringify(verdicts.map((v) => ({
        parent_id: v.parentId,
        child_id: v.childId,
        state: v.state,
        reasons: v.reasons,
        esia_birth_date: v.esiaBirthDate,
        esia_snils_hmac_hex: v.esiaSnilsHmac?.toString('hex') ?? null,
      }))),
    ],
  )
}

/**
 * The subject's relations that Госуслуги could not be asked about this time (kid scopes not granted):
 * marked `unchecked` now, unless this account already has a result for them — an earlier answer
 * is not undone by a login that brought no children.
 */
export async function markUnchecked(tx: PoolClient, subject: string): Promise<void> {
  await tx.query(
    `INSERT INTO guardian_checks (parent_id, child_id, upstream_subject, state, checked_at)
     SELECT r.parent_id, r.child_id, $1, 'unchecked', now()
     FROM links l JOIN journal_user_relations r ON r.parent_id = l.journal_user_id
     WHERE l.upstream_subject = $1 AND l.role = 'parent'
     ON CONFLICT (parent_id, child_id) DO UPDATE SET upstream_subject = EXCLUDED.upstream_subject, state = 'unchecked', reasons = '{}',
       esia_birth_date = NULL, esia_snils_hmac = NULL, checked_at = EXCLUDED.checked_at
     WHERE guardian_checks.upstream_subject <> EXCLUDED.upstream_subject`,
    [subject],
  )
}

/**
 * Should a login of `subject` with these parent cards ask Госуслуги for the children again? Yes when
 * a relation has no result for this account, or only `unchecked`; when the journal changed the
 * child's card since; when a confirmed result is older than `confirmedHours`, any other one older
 * than `otherHours`. One short statement, for parents only; non-parents never get here. As SQL
 * (`parentIds`: an expression of the parent ids as an array), for the login's own statement
 * (src/flows/login-record.ts), which asks it of a returning parent's card on the way.
 */
export function checkDueSql(parentIds: string, subject: string, confirmedHours: string, otherHours: string): string {
  return `EXISTS (
             SELECT 1 FROM journal_user_relations r JOIN journal_users c ON c.id = r.child_id
             LEFT JOIN guardian_checks g ON g.parent_id = r.parent_id AND g.child_id = r.child_id AND g.upstream_subject = ${subject}
             WHERE r.parent_id = ANY (${parentIds})
               AND (g.state IS NULL OR g.state = 'unchecked' OR g.checked_at < c.updated_at
                    OR g.checked_at < now() - make_interval(hours => CASE WHEN g.state = 'confirmed' THEN ${confirmedHours}::int ELSE ${otherHours}::int END))
           )`
}

export async function checkDue(db: Queryable, subject: string, parentIds: readonly string[], hours: { confirmed: number; other: number }): Promise<boolean> {
  const { rows } = await db.query<{ due: boolean }>({
    name: 'guardians.check-due',
    text: `SELECT ${checkDueSql('$1', '$2', '$3', '$4')} AS due`,
    values: [parentIds, subject, hours.confirmed, hours.other],
  })
  return rows[0]!.due
}

/** One relation of a card as people see it: the other card, its effective state and why. */
export interface Relation {
  parentId: string
  childId: string
  state: RelationState
  reasons: string[]
  checkedAt: Date | null
  /** ЕСИА's birth date when it differs from the card's (kept for the retention period only). */
  esiaBirthDate: string | null
  /**
   * Cards of the directory carrying the SNILS ЕСИА has for the child, when it differs from the
   * card's: only cards of the organisations the reader may see.
   */
  esiaSnilsOnCards: string[]
}

interface RelationRow {
  parent_id: string
  child_id: string
  state: RelationState
  reasons: string[] | null
  checked_at: Date | null
  esia_birth_date: string | null
  esia_snils_on: string[] | null
}

/**
 * The columns of a relation; `$scope` (text[], null: all) names the organisations whose cards may be
 * named as carrying ЕСИА's SNILS — a support person sees no card of another school, as on the card
 * page itself (src/admin/users.ts readUserCard).
 */
const relationColumns = (scope: number) => `r.parent_id, r.child_id, ${EFFECTIVE_STATE} AS state,
  CASE WHEN ${EFFECTIVE_STATE} = 'mismatch' THEN g.reasons END AS reasons,
  CASE WHEN l.upstream_subject = g.upstream_subject THEN g.checked_at END AS checked_at,
  CASE WHEN ${EFFECTIVE_STATE} = 'mismatch' THEN g.esia_birth_date END AS esia_birth_date,
  CASE WHEN ${EFFECTIVE_STATE} = 'mismatch' AND g.esia_snils_hmac IS NOT NULL THEN
    ARRAY(SELECT o.id FROM journal_users o WHERE o.snils_hmac = g.esia_snils_hmac AND ($${scope}::text[] IS NULL OR o.organization_id = ANY ($${scope}::text[]))
          ORDER BY o.id LIMIT 5) END AS esia_snils_on`

const toRelation = (r: RelationRow): Relation => ({
  parentId: r.parent_id,
  childId: r.child_id,
  state: r.state,
  reasons: r.reasons ?? [],
  checkedAt: r.checked_at,
  esiaBirthDate: r.esia_birth_date,
  esiaSnilsOnCards: r.esia_snils_on ?? [],
})

/**
 * A card's relations both ways: as the parent (its children) and as the child (its parents);
 * `organizationIds` (null: all) limits the cards named in `esiaSnilsOnCards`.
 */
export async function relationsOfCard(db: Queryable, cardId: string, organizationIds: string[] | null): Promise<Relation[]> {
  const { rows } = await db.query<RelationRow>(
    `SELECT ${relationColumns(2)} FROM journal_user_relations r ${CHECK_JOINS}
     WHERE r.parent_id = $1 OR r.child_id = $1 ORDER BY r.parent_id, r.child_id`,
    [cardId, organizationIds],
  )
  return rows.map(toRelation)
}

/** A linked parent card with what is known of its children, for the list «родители с неподтверждёнными детьми». */
export interface ParentSummary {
  parentId: string
  organizationId: string
  lastName: string
  firstName: string
  middleName: string | null
  counts: Record<RelationState, number>
}

/**
 * Linked parent cards of the organisations (`organizationIds`, null = all) with at least one child
 * that is not confirmed — «родители с неподтверждёнными детьми» — in name order, `limit` after
 * `offset`. Unlinked parents are left out: there is no Госуслуги account to compare with yet.
 */
export async function parentsWithUnconfirmedChildren(
  db: Queryable,
  filter: { organizationIds: string[] | null; organizationId?: string | undefined; limit: number; offset: number },
): Promise<{ parents: ParentSummary[]; more: boolean }> {
  const { rows } = await db.query<{ id: string; organization_id: string; last_name: string; first_name: string; middle_name: string | null; states: RelationState[] }>(
    `SELECT p.id, p.organization_id, p.last_name, p.first_name, p.middle_name, s.states
     FROM journal_users p JOIN links pl ON pl.journal_user_id = p.id
     CROSS JOIN LATERAL (
       SELECT array_agg(${EFFECTIVE_STATE}) AS states FROM journal_user_relations r ${CHECK_JOINS} WHERE r.parent_id = p.id
     ) s
     WHERE p.role = 'parent' AND ($1::text[] IS NULL OR p.organization_id = ANY ($1)) AND ($2::text IS NULL OR p.organization_id = $2)
       AND EXISTS (SELECT 1 FROM unnest(s.states) st WHERE st <> 'confirmed')
     ORDER BY p.norm_last_name, p.norm_first_name, p.id
     LIMIT $3 OFFSET $4`,
    [filter.organizationIds, filter.organizationId ?? null, filter.limit + 1, filter.offset],
  )
  const parents = rows.slice(0, filter.limit).map((r) => {
    const counts: Record<RelationState, number> = { confirmed: 0, mismatch: 0, not_in_esia: 0, unchecked: 0 }
    for (const s of r.states) counts[s]++
    return { parentId: r.id, organizationId: r.organization_id, lastName: r.last_name, firstName: r.first_name, middleName: r.middle_name, counts }
  })
  return { parents, more: rows.length > filter.limit }
}

/** A relation for the export: both cards' names as the school typed them, and the state. */
export interface RelationExportRow extends Relation {
  organizationId: string
  linked: boolean
  parent: { lastName: string; firstName: string; middleName: string | null }
  child: { lastName: string; firstName: string; middleName: string | null }
}

/**
 * Every relation of the organisations' parent cards, in parent then child id order, `pageSize` at a
 * time after the pair `after` (keyset paging: an export of a whole region reads in flat memory).
 */
export async function relationsPage(
  db: Queryable,
  filter: { organizationIds: string[] | null; organizationId?: string | undefined; unconfirmedOnly: boolean },
  after: { parentId: string; childId: string } | null,
  pageSize: number,
): Promise<RelationExportRow[]> {
  const { rows } = await db.query<RelationRow & { organization_id: string; linked: boolean; p_last: string; p_first: string; p_middle: string | null; c_last: string; c_first: string; c_middle: string | null }>(
    `SELECT * FROM (
       SELECT ${relationColumns(1)}, p.organization_id, l.journal_user_id IS NOT NULL AS linked,
              p.last_name AS p_last, p.first_name AS p_first, p.middle_name AS p_middle, c.last_name AS c_last, c.first_name AS c_first, c.middle_name AS c_middle
       FROM journal_users p JOIN journal_user_relations r ON r.parent_id = p.id ${CHECK_JOINS}
       WHERE p.role = 'parent' AND ($1::text[] IS NULL OR p.organization_id = ANY ($1)) AND ($2::text IS NULL OR p.organization_id = $2)
         AND ($3::text IS NULL OR (r.parent_id, r.child_id) > ($3, $4))
     ) x
     WHERE NOT $5 OR (x.linked AND x.state <> 'confirmed')
     ORDER BY x.parent_id, x.child_id LIMIT $6`,
    [filter.organizationIds, filter.organizationId ?? null, after?.parentId ?? null, after?.childId ?? null, filter.unconfirmedOnly, pageSize],
  )
  return rows.map((r) => ({
    ...toRelation(r),
    organizationId: r.organization_id,
    linked: r.linked,
    parent: { lastName: r.p_last, firstName: r.p_first, middleName: r.p_middle },
    child: { lastName: r.c_last, firstName: r.c_first, middleName: r.c_middle },
  }))
}

/**
 * ЕСИА's side of mismatches (a birth date, a SNILS HMAC) is kept for the failed attempts'
 * retention and then erased, with the destruction recorded in the same statement (Приказ РКН
 * № 179: which categories, why, when). The states themselves stay: they are facts about the
 * journal's cards. A destruction record (src/subjects/destruction.ts) goes with the audit event.
 * Returns how many relations lost their ЕСИА data.
 */
export async function purgeGuardianEvidence(db: Queryable, retentionDays: number): Promise<number> {
  const { rows } = await db.query<{ cleared: number }>(
    `WITH cleared AS (
       UPDATE guardian_checks SET esia_birth_date = NULL, esia_snils_hmac = NULL
       WHERE checked_at < now() - make_interval(days => $1) AND (esia_birth_date IS NOT NULL OR esia_snils_hmac IS NOT NULL)
       RETURNING 1
     ), counted AS (SELECT count(*)::int AS cleared FROM cleared),
     logged AS (
       INSERT INTO audit_events (type, actor_kind, actor_id, reason, details)
       SELECT 'data.destroyed', 'system', 'housekeeping', 'failed-attempt retention period ended',
              jsonb_build_object('table', 'guardian_checks', 'count', cleared, 'retention_days', $1::int,
                                 'categories', jsonb_build_array('дата рождения ребёнка', 'СНИЛС ребёнка (HMAC)'))
       FROM counted WHERE cleared > 0),
     ${retentionRecordCte({ from: 'counted', count: 'cleared', category: 'guardians', reason: 'failed-attempt retention period ended' })}
     SELECT cleared FROM counted`,
    [retentionDays],
  )
  return rows[0]?.cleared ?? 0
}

/** Names of cards as the school typed them (a linked parent's page lists the children by them). */
export async function cardNames(db: Queryable, ids: readonly string[]): Promise<{ id: string; lastName: string; firstName: string; middleName: string | null }[]> {
  if (ids.length === 0) return []
  const { rows } = await db.query<{ id: string; last_name: string; first_name: string; middle_name: string | null }>(
    'SELECT id, last_name, first_name, middle_name FROM journal_users WHERE id = ANY ($1) ORDER BY norm_last_name, norm_first_name, id',
    [ids],
  )
  return rows.map((r) => ({ id: r.id, lastName: r.last_name, firstName: r.first_name, middleName: r.middle_name }))
}
