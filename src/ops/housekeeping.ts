import fp from 'fastify-plugin'
import { purgeFailedAttempts } from '../linking/failed-attempts.js'
import { pseudonymiseExpiredAudit } from '../subjects/audit-retention.js'
import { pseudonymKey } from '../subjects/pseudonym.js'

export type HousekeepingTask = { name: string; run: () => Promise<number> }

declare module 'fastify' {
  interface FastifyInstance {
    housekeeping: { add(task: HousekeepingTask): void; runAll(): Promise<Record<string, number>> }
  }
}

const INTERVAL_MS = 10 * 60 * 1000

/**
 * Periodic purges of what must not be kept: failed attempts past their retention, audit rows past
 * theirs (pseudonymised), expired flow state. Capabilities register their own tasks; every instance runs them (the deletes are
 * idempotent), so nothing depends on a single scheduler.
 */
export const housekeepingPlugin = fp(
  async (app) => {
    const tasks: HousekeepingTask[] = [
      { name: 'failed_attempts', run: () => purgeFailedAttempts(app.db, app.config.failedAttemptRetentionDays) },
      { name: 'audit_events', run: () => pseudonymiseExpiredAudit(app.db, pseudonymKey(app.config.secrets.snilsHmacKey), app.config.auditRetentionDays) },
    ]
    const runAll = async () => {
      const removed: Record<string, number> = {}
      for (const task of tasks) {
        try {
          removed[task.name] = await task.run()
        } catch (err) {
          app.log.warn({ err, task: task.name }, 'housekeeping task failed')
        }
      }
      return removed
    }
    app.decorate('housekeeping', { add: (task: HousekeepingTask) => void tasks.push(task), runAll })
    let timer: NodeJS.Timeout | undefined
    app.addHook('onReady', async () => {
      if (app.config.env === 'test') return
      void runAll()
      timer = setInterval(() => void runAll(), INTERVAL_MS)
      timer.unref()
    })
    app.addHook('onClose', async () => clearInterval(timer))
  },
  { name: 'housekeeping' },
)
