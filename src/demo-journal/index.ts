import type { FastifyBaseLogger } from 'fastify'
import { loadDemoDirectory } from '../mock-idp/demo-directory.js'
import { buildDemoJournal } from './app.js'
import { BridgeClient } from './bridge.js'

export { buildDemoJournal, type DemoJournalOptions, type DemoDirectory } from './app.js'
export { BridgeClient, type BridgeSettings, type LinkResult, type LoginTransaction } from './bridge.js'

/** Every demo account has this password; logins are the card ids of the demo directory. */
export const DEMO_PASSWORD = 'demo'
/** The parent with children in two schools: the account that shows the most. */
export const DEMO_SAMPLE_LOGIN = 'u1001'

export interface RunningDemoJournal {
  url: string
  password: string
  sampleLogin: string
  close(): Promise<void>
}

/** The demo journal on its own port, registered at the bridge as the `demo-journal` client. */
export async function startDemoJournal(opts: {
  port: number
  host: string
  publicUrl: string
  bridgeUrl: string
  clientSecret: string
  logger?: FastifyBaseLogger
}): Promise<RunningDemoJournal> {
  const directory = loadDemoDirectory()
  const bridge = new BridgeClient({
    issuer: opts.bridgeUrl,
    clientId: 'demo-journal',
    clientSecret: opts.clientSecret,
    loginRedirectUri: `${opts.publicUrl}/auth/callback`,
    linkRedirectUri: `${opts.publicUrl}/settings/gosuslugi/done`,
    postLogoutRedirectUri: `${opts.publicUrl}/`,
  })
  const app = await buildDemoJournal({
    publicUrl: opts.publicUrl,
    bridge,
    directory: { organizations: directory.organizations, users: directory.journalUsers },
    password: DEMO_PASSWORD,
    ...(opts.logger ? { logger: opts.logger } : {}),
  })
  await app.listen({ port: opts.port, host: opts.host })
  return { url: opts.publicUrl, password: DEMO_PASSWORD, sampleLogin: DEMO_SAMPLE_LOGIN, close: () => app.close() }
}
