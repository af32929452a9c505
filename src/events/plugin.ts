import fp from 'fastify-plugin'
import { eventMetrics } from './metrics.js'
import { EventNotifier } from './notifier.js'
import { purgeOutbox } from './outbox.js'
import { LongPolls, pollRoutes } from './poll.js'
import { syncRecipients } from './recipients.js'
import { EventSender } from './sender.js'
import { purgeLoginSessions } from './sessions.js'

/**
 * Events to the journal: link changes as Security Event Tokens (RFC 8417) pushed (RFC 8935) or
 * polled (RFC 8936), and OpenID Connect Back-Channel Logout 1.0. What a change reports is decided
 * where links change (link-events.ts); this plugin delivers: the recipients list from CLIENTS_FILE
 * (recipients.ts), the sender (sender.ts), the poll endpoint (poll.ts), purges and metrics.
 */
const SYNC_RETRY_MS = 30_000

export const eventsPlugin = fp(
  async (app) => {
    const metrics = eventMetrics(app)
    const notifier = new EventNotifier(app.db, app.log)
    const sender = new EventSender({ db: app.db, clients: app.clients, keys: app.signingKeys, issuer: app.config.publicUrl, notifier, metrics, log: app.log })
    const longPolls = new LongPolls(notifier)
    app.housekeeping.add({ name: 'event_outbox', run: () => purgeOutbox(app.db, app.config.eventsRetentionDays) })
    app.housekeeping.add({ name: 'login_sessions', run: () => purgeLoginSessions(app.db) })

    // The recipients list must be written before this instance's changes are reported to the right
    // clients; a database that does not answer yet is asked again until it does.
    let retry: NodeJS.Timeout | undefined
    const sync = async (): Promise<void> => {
      try {
        await syncRecipients(app.db, app.clients)
        sender.start()
      } catch (err) {
        app.log.warn({ err }, 'events: the recipients list could not be written; trying again')
        retry = setTimeout(() => void sync(), SYNC_RETRY_MS)
        retry.unref()
      }
    }
    app.addHook('onReady', sync)
    // A long poll must not hold the shutdown for its 30 seconds.
    app.addHook('preClose', async () => longPolls.endAll())
    app.addHook('onClose', async () => {
      clearTimeout(retry)
      await sender.stop()
      await notifier.close()
    })

    await app.register(pollRoutes, { metrics, longPolls })
  },
  { name: 'events', dependencies: ['housekeeping', 'metrics', 'oidc-provider'] },
)
