import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import type { Pool } from './db/pool.js'
import { installErrorHandler } from './http/error-handler.js'
import { rejectNulCharacters } from './http/input-guard.js'
import { SharedRateLimitCounters } from './http/rate-limit-store.js'
import { installSecurityHeaders } from './http/security-headers.js'
import { createLogger, OneLinePerRequest } from './logging.js'
import type { ClientRegistry } from './oidc-provider/clients.js'
import { adminPlugin } from './admin/plugin.js'
import { drainPlugin } from './ops/drain.js'
import { healthRoutes } from './ops/health.js'
import { directoryRoutes } from './directory/routes.js'
import { housekeepingPlugin } from './ops/housekeeping.js'
import { metricsPlugin, type Metrics } from './ops/metrics.js'
import { homeRoutes } from './web/home.js'
import { staticFiles } from './web/static-files.js'
import type { UpstreamAdapter } from './upstream/types.js'
import { oidcProvider } from './oidc-provider/plugin.js'
import { callbackRoutes } from './flows/callback.js'
import { linkFlow, loginFlow } from './flows/plugin.js'
import { eventsPlugin } from './events/plugin.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    db: Pool
    clients: ClientRegistry
    metrics: Metrics
    /** The upstream IdP adapter (ЕСИА, OIDC broker or the mock); unset when none is configured. */
    upstream: UpstreamAdapter | undefined
  }
}

export interface AppDeps {
  config: Config
  pool: Pool
  clients: ClientRegistry
  logger?: Logger
  upstream?: UpstreamAdapter
}

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>

/** Origins our pages may send a browser to after a form POST (Chrome applies form-action to redirects). */
function formTargets(config: Config, clients: ClientRegistry): string[] {
  const upstream = config.idp.kind === 'oidc' ? config.idp.oidc.issuer : config.idp.esia.url
  return ["'self'", ...(upstream ? [new URL(upstream).origin] : []), ...clients.redirectOrigins()]
}

/**
 * Builds the bridge from its parts: outside plugins first, then our own decorations, then the
 * routes of each capability. Never listens; `server.ts` does, and tests call `inject`.
 */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, pool, clients } = deps
  const app = Fastify({
    loggerInstance: (deps.logger ?? createLogger(config.logLevel)) as FastifyBaseLogger,
    logController: new OneLinePerRequest(),
    trustProxy: config.trustProxy,
    // A HEAD request must not run a GET handler that consumes a flow state or binds a link intent
    // (a browser's or a mail scanner's prefetch).
    exposeHeadRoutes: false,
    bodyLimit: 1024 * 1024,
    requestTimeout: 120_000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('config', config)
  app.decorate('db', pool)
  app.decorate('clients', clients)
  app.decorate('upstream', deps.upstream)

  const https = config.publicUrl.startsWith('https://')
  installSecurityHeaders(app, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: formTargets(config, clients),
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
        upgradeInsecureRequests: https ? [] : null,
      },
    },
    strictTransportSecurity: https ? { maxAge: 31536000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
  })
  await app.register(cookie, { secret: config.secrets.cookieSecret })
  await app.register(formbody)
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: https ? '__Host-csrf' : 'csrf',
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'lax', secure: https, signed: true },
  })
  if (config.rateLimitPerMinute > 0) {
    // Counted in PostgreSQL, so N instances behind a balancer allow the limit once, not N times.
    const counters = new SharedRateLimitCounters(pool, { log: app.log })
    app.addHook('onClose', () => counters.close())
    // One client per IPv6 /64 (a single subscriber's usual allocation), not per address in it.
    await app.register(rateLimit, { global: false, max: config.rateLimitPerMinute, timeWindow: '1 minute', store: counters.store(), ipv6Subnet: 64 })
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'esia-bridge',
        version: '1',
        description: 'Links school e-journal accounts to ЕСИА (Госуслуги) and logs people in through it.',
      },
      components: {
        securitySchemes: {
          journalClient: { type: 'http', scheme: 'basic', description: 'client_id:client_secret of a journal client' },
          bearer: { type: 'http', scheme: 'bearer', description: 'BOOTSTRAP_ADMIN_TOKEN or a support API token' },
        },
      },
    },
    hideUntagged: true,
  })

  await app.register(metricsPlugin)
  await app.register(housekeepingPlugin)
  await app.register(drainPlugin)
  installErrorHandler(app)
  rejectNulCharacters(app)

  await app.register(staticFiles)
  // In development with the bundled mock, `/` names the demo journal and the mock too (server.ts starts them).
  const development = config.env !== 'production' && config.idp.kind === 'mock'
  await app.register(homeRoutes, {
    ...(development
      ? { development: { ...(config.idp.esia.url ? { mockUrl: config.idp.esia.url } : {}), ...(config.clientsFile ? {} : { journalUrl: `http://localhost:${config.demoJournalPort}` }) } }
      : {}),
  })
  await app.register(healthRoutes)
  await app.register(directoryRoutes, { prefix: '/api/v1/directory' })
  await app.register(oidcProvider)
  await app.register(eventsPlugin)
  await app.register(callbackRoutes)
  await app.register(linkFlow)
  await app.register(loginFlow)
  await app.register(adminPlugin)

  return app
}
