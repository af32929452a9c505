import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

/**
 * The environment (docs/operations.md, «Configuration»). Variables marked "ours" below are
 * this implementation's own knobs beyond the journal-facing contract. Parsed once at start;
 * everything downstream takes a typed `Config`.
 */
const Bool = Type.Union([Type.Boolean(), Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')])

const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ default: '127.0.0.1' }),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  DATABASE_URL: Type.Optional(Type.String({ minLength: 1 })),
  DATA_DIR: Type.String({ default: './.data' }),
  IDP_KIND: Type.Union([Type.Literal('mock'), Type.Literal('esia'), Type.Literal('oidc')], { default: 'mock' }),
  ESIA_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  ESIA_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  /** Kid scopes let the bridge confirm a parent's children (src/flows/guardians.ts); drop them if the ИС is not approved for them. */
  ESIA_SCOPES: Type.String({ default: 'openid fullname birthdate snils kid_fullname kid_birthdate kid_snils' }),
  ESIA_CERT_HASH: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f]{64}$' })),
  /** ours: the ИС's certificate (PEM or DER); when set, start-up checks ESIA_CERT_HASH against it. */
  ESIA_CERT_FILE: Type.Optional(Type.String({ minLength: 1 })),
  ESIA_SIGNER: Type.Union([Type.Literal('command'), Type.Literal('http'), Type.Literal('test-key')], { default: 'test-key' }),
  ESIA_SIGNER_COMMAND: Type.Optional(Type.String({ minLength: 1 })),
  ESIA_SIGNER_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** ours: CryptoPro emits little-endian signatures that ЕСИА wants reversed (docs/esia.md, «The signed `client_secret`»). */
  ESIA_SIGNER_REVERSE: Type.Optional(Bool),
  /** ours: checks GOST-signed ЕСИА tokens for ESIA_SIGNER=command; unset, OpenSSL's gost engine does (docs/operations.md). */
  ESIA_SIGNER_VERIFY_COMMAND: Type.Optional(Type.String({ minLength: 1 })),
  /** ours */
  ESIA_SIGNER_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 5000 }),
  ESIA_TOKEN_KEYS: Type.Optional(Type.String({ minLength: 1 })),
  /** ours: Ed25519 key of ESIA_SIGNER=test-key (the bundled mock only); default DATA_DIR/mock-esia/test-client-key.pem. */
  ESIA_TEST_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** ours: send PKCE (S256) to ЕСИА too — its support is unverified (docs/esia.md, «PKCE»), so off unless set. */
  ESIA_PKCE: Type.Optional(Bool),
  OIDC_ISSUER: Type.Optional(Type.String({ pattern: '^https?://' })),
  OIDC_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  OIDC_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  OIDC_SCOPES: Type.String({ default: 'openid profile' }),
  /** ours: claim names of a broker that fronts ЕСИА (docs/esia.md, «The `oidc` adapter (a broker in front of ЕСИА)»). */
  OIDC_CLAIM_SNILS: Type.String({ default: 'snils' }),
  OIDC_CLAIM_BIRTHDATE: Type.String({ default: 'birthdate' }),
  OIDC_CLAIM_MIDDLE_NAME: Type.String({ default: 'middle_name' }),
  OIDC_CLAIM_TRUSTED: Type.String({ default: 'trusted' }),
  /** A parent's children: an array of `{family_name, given_name, middle_name, birthdate, snils}`. */
  OIDC_CLAIM_CHILDREN: Type.String({ default: 'children' }),
  CLIENTS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  SNILS_HMAC_KEY: Type.Optional(Type.String({ minLength: 32 })),
  /** ours: signs browser-binding cookies and CSRF secrets. */
  COOKIE_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  /** ours: encrypts the provider's private signing keys at rest in the database. */
  KEYS_ENCRYPTION_KEY: Type.Optional(Type.String({ minLength: 32 })),
  BOOTSTRAP_ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 24 })),
  AUTO_LINK_ON_LOGIN: Type.Optional(Bool),
  FAILED_ATTEMPT_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 30 }),
  /** Delivered and refused events, and SETs a polling journal never acknowledged, are kept this long (src/events/). */
  EVENTS_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 7 }),
  /** ours: audit events name the person this long (3 years), then keep only a pseudonym of them (docs/personal-data.md). */
  AUDIT_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 1095 }),
  /** ours: a confirmed parent's children are compared with Госуслуги again at a login this long after the last time (docs/decisions/0014-guardian-check-at-login.md). */
  GUARDIAN_RECHECK_HOURS: Type.Integer({ minimum: 1, default: 24 }),
  /**
   * ours: how long one statement of a completeness report may run before it is cancelled and the
   * report answers 503 (docs/operations.md). At most the pool's own statement limit (30 s).
   */
  REPORT_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 30_000, default: 5000 }),
  /** Per IP: a school's pupils arrive at 8:00 from one NAT address, so the default leaves room for a class or two. */
  RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 0, default: 600 }),
  /** ours: the proxy in front (TLS ends there): its addresses/CIDRs separated by commas, or `true` for any. */
  TRUST_PROXY: Type.Optional(Type.String({ minLength: 1 })),
  /** ours: how often each instance re-reads the token-signing keys, so a rotation reaches it (src/oidc-provider/keys.ts). */
  SIGNING_KEYS_REFRESH_SECONDS: Type.Number({ minimum: 1, maximum: 60, default: 60 }),
  /** ours: after SIGTERM, how long /readyz answers 503 while requests are still served (the balancer's time to notice). */
  SHUTDOWN_DELAY_SECONDS: Type.Number({ minimum: 0, maximum: 300, default: 5 }),
  /** ours: then how long requests in flight may take to finish before the process exits anyway. */
  SHUTDOWN_GRACE_SECONDS: Type.Number({ minimum: 1, maximum: 3600, default: 30 }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  /** ours: ports of the bundled mock ЕСИА and demo journal started by `npm start` with IDP_KIND=mock. */
  MOCK_ESIA_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3100 }),
  DEMO_JOURNAL_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3200 }),
})

type Env = Static<typeof EnvSchema>

/** Every variable the service reads (deployment manifests are checked against it). */
export const ENV_NAMES: readonly string[] = Object.keys(EnvSchema.properties)

export type IdpKind = Env['IDP_KIND']
export type SignerKind = Env['ESIA_SIGNER']

export interface Config {
  env: Env['NODE_ENV']
  port: number
  host: string
  /** Our issuer: the origin journals and browsers see. No trailing slash. */
  publicUrl: string
  databaseUrl: string | undefined
  dataDir: string
  idp: {
    kind: IdpKind
    esia: {
      url: string | undefined
      clientId: string | undefined
      scopes: string
      certHash: string | undefined
      certFile: string | undefined
      signer: SignerKind
      signerCommand: string | undefined
      signerVerifyCommand: string | undefined
      signerUrl: string | undefined
      signerReverse: boolean
      signerTimeoutMs: number
      tokenKeys: string | undefined
      testKeyFile?: string | undefined
      pkce: boolean
    }
    oidc: {
      issuer: string | undefined
      clientId: string | undefined
      clientSecret: string | undefined
      scopes: string
      claims: { snils: string; birthdate: string; middleName: string; trusted: string; children: string }
    }
  }
  clientsFile: string | undefined
  secrets: Secrets
  bootstrapAdminToken: string | undefined
  autoLinkOnLogin: boolean
  failedAttemptRetentionDays: number
  eventsRetentionDays: number
  auditRetentionDays: number
  guardianRecheckHours: number
  reportStatementTimeoutMs: number
  rateLimitPerMinute: number
  /** Fastify's trustProxy: which proxies' X-Forwarded-For to believe for the client address. */
  trustProxy: boolean | string[]
  logLevel: Env['LOG_LEVEL']
  signingKeysRefreshMs: number
  /** Graceful stop on SIGTERM (src/ops/drain.ts): the drain delay, then the grace for requests in flight. */
  shutdown: { delayMs: number; graceMs: number }
  mockEsiaPort: number
  demoJournalPort: number
}

/** Secrets every deployment needs; in development they get generated defaults (see secrets.ts). */
export interface Secrets {
  snilsHmacKey: string
  cookieSecret: string
  keysEncryptionKey: string
}
export const SECRET_ENV_NAMES = {
  snilsHmacKey: 'SNILS_HMAC_KEY',
  cookieSecret: 'COOKIE_SECRET',
  keysEncryptionKey: 'KEYS_ENCRYPTION_KEY',
} as const satisfies Record<keyof Secrets, string>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

function toBool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback
  return value === true || value === 'true' || value === '1'
}

function stripEmpty(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '' && k in EnvSchema.properties) out[k] = v
  return out
}

/**
 * Parses the environment. Secrets may be missing here: `resolveSecrets` fills them in development
 * and refuses to start in production. Errors name the variable and what was wrong with it.
 */
export function parseEnv(raw: Record<string, string | undefined>): Env & { partialSecrets: Partial<Secrets> } {
  const input = Value.Default(EnvSchema, stripEmpty(raw))
  const converted = Value.Convert(EnvSchema, input)
  const errors = [...Value.Errors(EnvSchema, converted)]
  if (errors.length > 0) {
    const lines = errors.map((e) => `${e.instancePath.replace(/^\//, '') || '(env)'}: ${e.message}`)
    throw new ConfigError(`Invalid configuration:\n  ${[...new Set(lines)].join('\n  ')}`)
  }
  const env = converted as Env
  return {
    ...env,
    partialSecrets: {
      ...(env.SNILS_HMAC_KEY ? { snilsHmacKey: env.SNILS_HMAC_KEY } : {}),
      ...(env.COOKIE_SECRET ? { cookieSecret: env.COOKIE_SECRET } : {}),
      ...(env.KEYS_ENCRYPTION_KEY ? { keysEncryptionKey: env.KEYS_ENCRYPTION_KEY } : {}),
    },
  }
}

export function buildConfig(env: Env, secrets: Secrets): Config {
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '')
  const config: Config = {
    env: env.NODE_ENV,
    port: env.PORT,
    host: env.HOST,
    publicUrl,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    idp: {
      kind: env.IDP_KIND,
      esia: {
        url: env.ESIA_URL?.replace(/\/+$/, ''),
        clientId: env.ESIA_CLIENT_ID,
        scopes: env.ESIA_SCOPES,
        certHash: env.ESIA_CERT_HASH,
        certFile: env.ESIA_CERT_FILE,
        signer: env.ESIA_SIGNER,
        signerCommand: env.ESIA_SIGNER_COMMAND,
        signerVerifyCommand: env.ESIA_SIGNER_VERIFY_COMMAND,
        signerUrl: env.ESIA_SIGNER_URL,
        signerReverse: toBool(env.ESIA_SIGNER_REVERSE, false),
        signerTimeoutMs: env.ESIA_SIGNER_TIMEOUT_MS,
        tokenKeys: env.ESIA_TOKEN_KEYS,
        testKeyFile: env.ESIA_TEST_KEY_FILE,
        pkce: toBool(env.ESIA_PKCE, false),
      },
      oidc: {
        issuer: env.OIDC_ISSUER,
        clientId: env.OIDC_CLIENT_ID,
        clientSecret: env.OIDC_CLIENT_SECRET,
        scopes: env.OIDC_SCOPES,
        claims: {
          snils: env.OIDC_CLAIM_SNILS,
          birthdate: env.OIDC_CLAIM_BIRTHDATE,
          middleName: env.OIDC_CLAIM_MIDDLE_NAME,
          trusted: env.OIDC_CLAIM_TRUSTED,
          children: env.OIDC_CLAIM_CHILDREN,
        },
      },
    },
    clientsFile: env.CLIENTS_FILE,
    secrets,
    bootstrapAdminToken: env.BOOTSTRAP_ADMIN_TOKEN,
    autoLinkOnLogin: toBool(env.AUTO_LINK_ON_LOGIN, true),
    failedAttemptRetentionDays: env.FAILED_ATTEMPT_RETENTION_DAYS,
    eventsRetentionDays: env.EVENTS_RETENTION_DAYS,
    auditRetentionDays: env.AUDIT_RETENTION_DAYS,
    guardianRecheckHours: env.GUARDIAN_RECHECK_HOURS,
    reportStatementTimeoutMs: env.REPORT_STATEMENT_TIMEOUT_MS,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    logLevel: env.LOG_LEVEL,
    signingKeysRefreshMs: env.SIGNING_KEYS_REFRESH_SECONDS * 1000,
    shutdown: { delayMs: env.SHUTDOWN_DELAY_SECONDS * 1000, graceMs: env.SHUTDOWN_GRACE_SECONDS * 1000 },
    mockEsiaPort: env.MOCK_ESIA_PORT,
    demoJournalPort: env.DEMO_JOURNAL_PORT,
  }
  checkConsistency(config)
  return config
}

function parseTrustProxy(raw: string | undefined): boolean | string[] {
  if (raw === undefined || raw === 'false') return false
  if (raw === 'true') return true
  return raw.split(',').map((s) => s.trim()).filter(Boolean)
}

/** Combinations the schema alone cannot express; each message names the variable to set. */
function checkConsistency(config: Config): void {
  const problems: string[] = []
  const { kind, esia, oidc } = config.idp
  if (kind === 'esia') {
    if (!esia.url) problems.push('ESIA_URL is required when IDP_KIND=esia')
    if (!esia.clientId) problems.push('ESIA_CLIENT_ID is required when IDP_KIND=esia')
    if (!esia.certHash) problems.push('ESIA_CERT_HASH is required when IDP_KIND=esia')
    if (!esia.tokenKeys) problems.push('ESIA_TOKEN_KEYS is required when IDP_KIND=esia')
    if (esia.signer === 'command' && !esia.signerCommand) problems.push('ESIA_SIGNER_COMMAND is required when ESIA_SIGNER=command')
    if (esia.signer === 'http' && !esia.signerUrl) problems.push('ESIA_SIGNER_URL is required when ESIA_SIGNER=http')
  }
  if (kind === 'oidc') {
    if (!oidc.issuer) problems.push('OIDC_ISSUER is required when IDP_KIND=oidc')
    if (!oidc.clientId) problems.push('OIDC_CLIENT_ID is required when IDP_KIND=oidc')
    if (!oidc.clientSecret) problems.push('OIDC_CLIENT_SECRET is required when IDP_KIND=oidc')
  }
  if (config.env === 'production') {
    if (esia.signer === 'test-key' && kind === 'esia') problems.push('ESIA_SIGNER=test-key is refused in production: use command or http')
    if (kind === 'mock') problems.push('IDP_KIND=mock is refused in production: set IDP_KIND=esia or oidc')
    if (!config.clientsFile) problems.push('CLIENTS_FILE is required in production (the list of journal clients)')
    if (!config.publicUrl.startsWith('https://')) problems.push('PUBLIC_URL must be an https:// address in production')
    // Tokens and keys fetched over plain http could be forged by anyone on the path.
    if (kind === 'esia' && esia.url && !esia.url.startsWith('https://')) problems.push('ESIA_URL must be an https:// address in production')
    if (kind === 'esia' && esia.tokenKeys?.startsWith('http://')) problems.push('ESIA_TOKEN_KEYS must not be a plain http:// URL in production')
    if (kind === 'oidc' && oidc.issuer && !oidc.issuer.startsWith('https://')) problems.push('OIDC_ISSUER must be an https:// address in production')
    if (esia.signer === 'http' && esia.signerUrl?.startsWith('http://') && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(esia.signerUrl)) {
      problems.push('ESIA_SIGNER_URL must be https:// in production (or a signer on this host)')
    }
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`)
}
