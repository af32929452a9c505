import { withTransaction } from '../../src/db/pool.js'
import { saveVerdicts } from '../../src/guardians/checks.js'
import { writeAudit } from '../../src/linking/audit.js'
import { recordFailedAttempt } from '../../src/linking/failed-attempts.js'
import { snilsHmac } from '../../src/matching/snils.js'
import { JOURNAL_CLIENT, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { person, seedSchools, SCHOOL_A, SNILS, snilsFrom } from '../admin/fixtures.js'

/**
 * Мария Петровна Иванова, a parent at school A (test/admin/fixtures.ts), as the bridge knows her
 * after a year of use: her card linked to her Госуслуги account, two failed attempts with the names
 * Госуслуги returned, her son's relation checked against Госуслуги (the dates differ), audit events
 * naming her, and a login session at the journal.
 */
export const IVANOVA = { card: 'a-parent-ivanova', child: 'a-student-ivanov', subject: '1000001', snils: SNILS.ivanova }
export const CHILD_SNILS = snilsFrom('556677889')

export async function seedIvanova(t: TestApp): Promise<{ attempts: number[] }> {
  await seedSchools(t.db.pool)
  const key = TEST_SECRETS.snilsHmacKey
  const attempts = [
    await recordFailedAttempt(t.db.pool, key, {
      flow: 'link', reasons: ['mismatch:birth_date'], journalUserId: IVANOVA.card, organizationId: SCHOOL_A.id,
      person: person({ subject: IVANOVA.subject, lastName: 'Иванова', firstName: 'Мария', middleName: 'Петровна', birthDate: '1985-03-15', snils: IVANOVA.snils.replace(/\D/g, '') }),
    }),
    await recordFailedAttempt(t.db.pool, key, {
      flow: 'login', reasons: ['mismatch:middle_name'], organizationId: SCHOOL_A.id,
      person: person({ subject: IVANOVA.subject, lastName: 'Иванова', firstName: 'Мария', middleName: 'Петровнa', birthDate: '1985-03-14' }),
    }),
  ]
  await withTransaction(t.db.pool, async (tx) => {
    await saveVerdicts(tx, IVANOVA.subject, [
      { parentId: IVANOVA.card, childId: IVANOVA.child, state: 'mismatch', reasons: ['mismatch:birth_date', 'mismatch:snils'], esiaBirthDate: '2012-09-02', esiaSnilsHmac: snilsHmac(key, CHILD_SNILS.replace(/\D/g, '')) },
    ])
    await writeAudit(tx, {
      type: 'guardian.checked', actor: { kind: 'person', id: IVANOVA.subject }, journalUserId: IVANOVA.card, organizationId: SCHOOL_A.id, upstreamSubject: IVANOVA.subject,
      details: { trigger: 'login', client_id: JOURNAL_CLIENT.client_id, confirmed: 0, mismatch: 1, not_in_esia: 0, esia_children_not_in_journal: 0 },
    })
    await writeAudit(tx, {
      type: 'login.succeeded', actor: { kind: 'person', id: IVANOVA.subject }, journalUserId: IVANOVA.card, organizationId: SCHOOL_A.id, upstreamSubject: IVANOVA.subject,
      details: { method: 'link', chooser: false },
    })
  })
  await t.db.pool.query(`INSERT INTO login_sessions (sid, client_id, journal_user_id) VALUES ('sid-ivanova', $1, $2)`, [JOURNAL_CLIENT.client_id, IVANOVA.card])
  return { attempts }
}
