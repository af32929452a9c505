import type { FastifyInstance } from 'fastify'
import { withTransaction, type PoolClient, type Queryable } from '../db/pool.js'
import { checkDue, childrenOfSubject, markUnchecked, purgeGuardianEvidence, relationsOfCard, saveVerdicts, type RelationVerdict } from '../guardians/checks.js'
import { writeAudit } from '../linking/audit.js'
import { matchChildren, type EsiaChild, type RelationState } from '../matching/children.js'
import { snilsHmac } from '../matching/snils.js'
import type { ChildrenAccess, VerifiedChild } from '../upstream/types.js'

/**
 * Guardians confirmed by Госуслуги: a parent's children as ЕСИА lists them, compared with the
 * journal's children of every parent card linked to that ЕСИА account (docs/matching.md «Children»).
 *
 *   at link     always, with the children that came with the person (they are fetched with it)
 *   at login    only for a person with parent cards whose kid scopes were granted, and only when a
 *               relation is due (never checked with this account, the journal changed the child's
 *               card, or the last result is old): docs/decisions/0014-guardian-check-at-login.md
 *
 * A check stores one state per relation (src/guardians/checks.ts) and one `guardian.checked` audit
 * event per parent card, with counts only. ЕСИА's children that are none of the journal's are
 * counted there and in /metrics, never stored.
 */

/** How stale a result may be before a parent's login compares the children again. */
export function recheckHours(app: FastifyInstance): { confirmed: number; other: number } {
  // A result that is not `confirmed` is what the person was told to fix (at school or on
  // Госуслуги), so the next login an hour later already looks again; a confirmed one keeps.
  return { confirmed: app.config.guardianRecheckHours, other: Math.min(1, app.config.guardianRecheckHours) }
}

export interface ChildrenCheck {
  /** False when Госуслуги gave no children this time: nothing was compared. */
  compared: boolean
  /** ЕСИА's children that none of the journal's children are. */
  esiaOnly: number
}

/**
 * Compares and stores, on the caller's transaction (the link's, at link time). `kids` undefined:
 * Госуслуги gave no children (scopes not granted, or not answered), so relations never checked
 * with this account are marked `unchecked` and earlier results stay.
 */
export async function checkChildren(
  app: FastifyInstance,
  tx: PoolClient,
  check: { subject: string; kids: VerifiedChild[] | undefined; trigger: 'link' | 'login'; clientId: string },
): Promise<ChildrenCheck> {
  const metrics = guardianMetrics(app)
  if (!check.kids) {
    await markUnchecked(tx, check.subject)
    return { compared: false, esiaOnly: 0 }
  }
  const relations = await childrenOfSubject(tx, check.subject)
  if (relations.length === 0) return { compared: true, esiaOnly: check.kids.length }

  // The same child may be on two of the person's parent cards; it is compared once.
  const children = [...new Map(relations.map((r) => [r.child.id, r.child])).values()]
  const key = app.config.secrets.snilsHmacKey
  const esia: EsiaChild[] = check.kids.map((child) => ({ child, snilsHmac: child.snils ? snilsHmac(key, child.snils) : null }))
  const { verdicts, esiaOnly } = matchChildren(children, esia)
  const byChild = new Map(verdicts.map((v) => [v.journalUserId, v]))
  const stored: RelationVerdict[] = relations.map(({ parentId, child }) => {
    const { journalUserId: _, ...verdict } = byChild.get(child.id)!
    return { ...verdict, parentId, childId: child.id }
  })
  await saveVerdicts(tx, check.subject, stored)

  const organizationOf = new Map(relations.map((r) => [r.parentId, r.parentOrganizationId]))
  for (const [parentId, organizationId] of organizationOf) {
    const own = stored.filter((v) => v.parentId === parentId)
    await writeAudit(tx, {
      type: 'guardian.checked',
      actor: { kind: 'person', id: check.subject },
      journalUserId: parentId,
      organizationId,
      upstreamSubject: check.subject,
      details: {
        trigger: check.trigger,
        client_id: check.clientId,
        confirmed: own.filter((v) => v.state === 'confirmed').length,
        mismatch: own.filter((v) => v.state === 'mismatch').length,
        not_in_esia: own.filter((v) => v.state === 'not_in_esia').length,
        esia_children_not_in_journal: esiaOnly,
      },
    })
  }
  for (const v of verdicts) metrics.relations.inc({ state: v.state })
  metrics.esiaOnly.inc(esiaOnly)
  return { compared: true, esiaOnly }
}

function guardianMetrics(app: FastifyInstance) {
  return {
    relations: app.metrics.counter('bridge_guardian_children_checked_total', 'Journal children compared with a parent\'s children at Госуслуги, by result', ['state']),
    esiaOnly: app.metrics.counter('bridge_guardian_esia_children_not_in_journal_total', 'Children Госуслуги lists for a parent that none of the parent\'s journal children are'),
  }
}

/**
 * At a login: compares again when it is due, for the person's parent cards only. `cards` are the
 * cards the login reached; without a parent among them, or without granted kid scopes, nothing is
 * read or fetched. The children are fetched from Госуслуги only when a relation is due.
 */
export async function checkChildrenAtLogin(
  app: FastifyInstance,
  login: { subject: string; childrenAccess: ChildrenAccess; children(): Promise<VerifiedChild[] | undefined> },
  cards: readonly { journalUserId: string; role: string }[],
  clientId: string,
): Promise<void> {
  const parents = cards.filter((c) => c.role === 'parent').map((c) => c.journalUserId)
  if (parents.length === 0 || login.childrenAccess !== 'given') return
  if (!(await checkDue(app.db, login.subject, parents, recheckHours(app)))) return
  const kids = await login.children()
  if (!kids) return
  await withTransaction(app.db, (tx) => checkChildren(app, tx, { subject: login.subject, kids, trigger: 'login', clientId }))
}

/** What a parent card's children look like after a check: the link token and the result page read it. */
export interface CardChildren {
  /** Journal ids of the children Госуслуги confirmed, in id order. */
  confirmed: string[]
  /** Seconds; null when nothing was ever compared with the linked account. */
  checkedAt: number | null
  unconfirmed: { childId: string; state: Exclude<RelationState, 'confirmed'>; reasons: string[] }[]
}

/** The card's children and their states, or undefined when it has none (not a parent, or none in the journal). */
export async function cardChildren(db: Queryable, parentId: string): Promise<CardChildren | undefined> {
  const relations = (await relationsOfCard(db, parentId, null)).filter((r) => r.parentId === parentId)
  if (relations.length === 0) return undefined
  const times = relations.flatMap((r) => (r.checkedAt && r.state !== 'unchecked' ? [r.checkedAt.getTime()] : []))
  return {
    confirmed: relations.filter((r) => r.state === 'confirmed').map((r) => r.childId),
    checkedAt: times.length > 0 ? Math.floor(Math.max(...times) / 1000) : null,
    unconfirmed: relations.flatMap((r) => (r.state === 'confirmed' ? [] : [{ childId: r.childId, state: r.state, reasons: r.reasons }])),
  }
}

/** Housekeeping: ЕСИА's side of mismatches goes with the failed attempts' retention. */
export function registerGuardianPurge(app: FastifyInstance): void {
  app.housekeeping.add({ name: 'guardian_checks', run: () => purgeGuardianEvidence(app.db, app.config.failedAttemptRetentionDays) })
}
