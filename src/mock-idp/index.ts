import type { KeyObject } from 'node:crypto'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify'
import type { MockEsiaApp } from './app-types.js'
import type { MockClient, MockClientRegistration } from './clients.js'
import { MOCK_KEYS_PATH } from './constants.js'
import type { MockFaults } from './faults.js'
import type { MockKey } from './keys.js'
import { adminRoutes } from './routes/admin.js'
import { authorizeRoutes } from './routes/authorize.js'
import { esiaLogoutRoutes } from './routes/esia-logout.js'
import { esiaTokenRoutes } from './routes/esia-token.js'
import { oidcRoutes } from './routes/oidc.js'
import { publicRoutes } from './routes/public-keys.js'
import { restRoutes } from './routes/rest.js'
import { standRoutes } from './routes/stand.js'
import { MockEsiaState, type MockEsiaOptions } from './state.js'

export type { MockEsiaApp } from './app-types.js'
export { gostClientCertificate, type GostClientCertificate, type MockClient, type MockClientRegistration, type TokenAlg } from './clients.js'
export { defaultFaults, TOKEN_TAMPERS, type MockFaults, type TokenTamper } from './faults.js'
export { loadPersonas, personaById, type Persona, type PersonaId } from './personas.js'
export { loadDemoDirectory, type DemoDirectory, type DemoJournalUser, type DemoOrganization } from './demo-directory.js'
export { MockEsiaState, type MockEsiaOptions } from './state.js'

export interface BuildMockEsiaOptions extends MockEsiaOptions {
  /** A pino logger, `true` for Fastify's default, or nothing (silent: tests). */
  logger?: FastifyBaseLogger | boolean
}

/**
 * The bundled mock ЕСИА as a Fastify app (never listening): the ЕСИА dialect (v2/ac, v3/te,
 * /rs/prns, Logout, keys), a standard OIDC side under /oidc, the persona page and the fault
 * switches under /mock. The only stand-in for ЕСИА in tests and in the demo.
 */
export async function buildMockEsia(opts: BuildMockEsiaOptions = {}): Promise<MockEsiaApp> {
  const state = await MockEsiaState.create(opts)
  const logger = opts.logger
  const app = Fastify({
    ...(typeof logger === 'object' ? { loggerInstance: logger } : { logger: logger ?? false }),
    // Query strings carry states and signatures: the request log keeps method and path only.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as MockEsiaApp
  app.decorate('esia', state)
  app.addHook('onClose', async () => state.close())
  await app.register(cookie)
  await app.register(formbody)
  await app.register(publicRoutes)
  await app.register(authorizeRoutes)
  await app.register(esiaTokenRoutes)
  await app.register(restRoutes)
  await app.register(esiaLogoutRoutes)
  await app.register(oidcRoutes)
  await app.register(adminRoutes)
  await app.register(standRoutes)
  return app
}

export interface StartMockEsiaOptions extends BuildMockEsiaOptions {
  /** 3100 by default; 0 picks a free port (tests). */
  port?: number
  host?: string
}

/** A listening mock and the handle tests and `npm start` drive it with. */
export interface RunningMockEsia {
  /** Base URL, no trailing slash: what ESIA_URL points at. */
  url: string
  /** `iss` of the ЕСИА-dialect tokens: `${url}/`. */
  esiaIssuer: string
  /** Issuer of the standard OIDC side: `${url}/oidc`. */
  oidcIssuer: string
  /** JWKS of the token keys (ESIA_TOKEN_KEYS may point here). */
  keysUrl: string
  app: MockEsiaApp
  state: MockEsiaState
  registerClient(reg: MockClientRegistration): MockClient
  setFaults(partial: Partial<MockFaults>): MockFaults
  resetFaults(): MockFaults
  /** A new (or the given) signing key signs from now on; the previous one stays published unless `keepPrevious: false`. */
  rotateSigningKey(opts?: { keepPrevious?: boolean; key?: KeyObject }): Promise<MockKey>
  close(): Promise<void>
}

export async function startMockEsia(opts: StartMockEsiaOptions = {}): Promise<RunningMockEsia> {
  const app = await buildMockEsia(opts)
  const host = opts.host ?? '127.0.0.1'
  await app.listen({ port: opts.port ?? 3100, host })
  const state = app.esia
  if (!opts.publicUrl) {
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : opts.port
    // A wildcard address is not something a browser can open.
    const visible = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
    state.baseUrl = `http://${visible}:${port}`
  }
  const url = state.baseUrl
  return {
    url,
    esiaIssuer: state.esiaIssuer,
    oidcIssuer: state.oidcIssuer,
    keysUrl: `${url}${MOCK_KEYS_PATH}`,
    app,
    state,
    registerClient: (reg) => state.registerClient(reg),
    setFaults: (partial) => state.setFaults(partial),
    resetFaults: () => state.resetFaults(),
    rotateSigningKey: (o) => state.keys.rotate(o),
    close: () => app.close(),
  }
}
