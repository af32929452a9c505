import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Service, type IService } from 'kubernetes-models/v1/Service'
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { buildConfig, ENV_NAMES, parseEnv, SECRET_ENV_NAMES } from '../../src/config.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DIR = path.join(ROOT, 'deploy/kubernetes')

/** The kinds the manifests may use, with the kubernetes-models type that checks each (schemas of the Kubernetes API). */
const MODELS = {
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
  'autoscaling/v2/HorizontalPodAutoscaler': { model: HorizontalPodAutoscaler, module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', type: 'IHorizontalPodAutoscaler' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy', type: 'INetworkPolicy' },
} as const
type Kind = keyof typeof MODELS

interface Manifest {
  file: string
  kind: Kind
  object: Record<string, unknown>
}

function loadManifests(): Manifest[] {
  const manifests: Manifest[] = []
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`)
      const object = doc.toJS() as Record<string, unknown>
      const kind = `${String(object.apiVersion)}/${String(object.kind)}`
      if (!(kind in MODELS)) throw new Error(`${file}: ${kind} is not a kind these manifests are checked for`)
      manifests.push({ file, kind: kind as Kind, object })
    }
  }
  return manifests
}

/**
 * Unknown fields — a typo like `readinesProbe` — pass the JSON schemas (they allow extra
 * properties) but not TypeScript's excess-property check: every manifest is type-checked as an
 * object literal of its kubernetes-models type.
 */
function unknownFields(manifests: Manifest[]): string[] {
  const imports = [...new Set(manifests.map((m) => m.kind))].map((k) => `import type { ${MODELS[k].type} } from '${MODELS[k].module}'`)
  const checks = manifests.map((m, i) => `export const m${i}: ${MODELS[m.kind].type} = ${JSON.stringify(m.object, null, 2)}`)
  const virtual = path.join(ROOT, 'test/deploy/__manifests__.ts')
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, types: [] }
  const host = ts.createCompilerHost(options)
  const source = [...imports, ...checks].join('\n')
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, language, ...rest) => (name === virtual ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest))
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => name === virtual || fileExists(name)
  const program = ts.createProgram([virtual], options, host)
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
}

describe('deploy/kubernetes', () => {
  const manifests = loadManifests()
  const one = <T>(kind: Kind) => manifests.find((m) => m.kind === kind)!.object as T
  const deployment = one<IDeployment>('apps/v1/Deployment')
  const pod = deployment.spec!.template.spec!
  const container = pod.containers.find((c) => c.name === 'bridge')!
  const envValue = (name: string) => container.env!.find((e) => e.name === name)?.value
  const configMap = one<IConfigMap>('v1/ConfigMap')

  it('is valid against the Kubernetes API schemas, with no unknown field', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(Object.keys(MODELS).sort())
    for (const m of manifests) expect(() => new MODELS[m.kind].model(m.object as never).validate(), m.file).not.toThrow()
    expect(unknownFields(manifests)).toEqual([])
  })

  it('lists every manifest in kustomization.yaml', () => {
    const kustomization = parseAllDocuments(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] }
    expect([...kustomization.resources].sort()).toEqual([...new Set(manifests.map((m) => m.file))].sort())
  })

  it('probes /readyz for readiness and /healthz for liveness and start-up, on the port the container listens on', () => {
    const port = container.ports!.find((p) => p.name === 'http')!
    expect(port.containerPort).toBe(Number(envValue('PORT')))
    expect(container.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'http' })
    expect(container.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 'http' })
    expect(container.startupProbe!.httpGet).toEqual({ path: '/healthz', port: 'http' })
  })

  it('gives the drain its time: preStop, then the delay and the grace, within terminationGracePeriodSeconds', () => {
    const preStop = container.lifecycle!.preStop!.exec!.command!
    expect(preStop[0]).toBe('sleep')
    const total = Number(preStop[1]) + Number(envValue('SHUTDOWN_DELAY_SECONDS')) + Number(envValue('SHUTDOWN_GRACE_SECONDS'))
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(total)
    // A rolling update never lowers capacity: a new pod is ready before an old one stops.
    expect(deployment.spec!.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } })
  })

  it('takes every secret from a Secret, and nothing else from one', () => {
    const secretNames = [...Object.values(SECRET_ENV_NAMES), 'DATABASE_URL', 'BOOTSTRAP_ADMIN_TOKEN', 'OIDC_CLIENT_SECRET']
    const fromSecrets = container.env!.filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name)
    expect(fromSecrets.sort()).toEqual(secretNames.sort())
    for (const name of secretNames) expect(configMap.data ?? {}, name).not.toHaveProperty(name)
    // The journal clients file holds client secrets (or their hashes): mounted from a Secret.
    const clientsFile = envValue('CLIENTS_FILE')!
    const mount = container.volumeMounts!.find((m) => clientsFile.startsWith(`${m.mountPath}/`))!
    expect(pod.volumes!.find((v) => v.name === mount.name)!.secret?.secretName).toBe('esia-bridge-clients')
  })

  it('configures a production start the bridge accepts, with no variable it does not know', () => {
    const plain = { ...configMap.data, ...Object.fromEntries(container.env!.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!])) }
    expect(Object.keys(plain).filter((name) => !ENV_NAMES.includes(name))).toEqual([])
    const secrets = { snilsHmacKey: 'x'.repeat(32), cookieSecret: 'y'.repeat(32), keysEncryptionKey: 'z'.repeat(32) }
    const config = buildConfig(parseEnv({ ...plain, DATABASE_URL: 'postgres://bridge@db/bridge' }), secrets)
    expect(config).toMatchObject({ env: 'production', host: '0.0.0.0', port: 3000, shutdown: { delayMs: 5000, graceMs: 30_000 } })
    expect(config.trustProxy).not.toBe(false)
  })

  it('runs as the image\'s unprivileged user with a read-only root filesystem, as the Dockerfile builds it', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
    expect(dockerfile).toMatch(/^USER node$/m)
    expect(dockerfile).toMatch(/^EXPOSE 3000$/m)
    // `node` is uid 1000 in the official Node images.
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 })
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
    expect(container.resources!.requests).toHaveProperty('cpu')
    expect(container.resources!.limits).toHaveProperty('memory')
  })

  it('points the Service, the disruption budget and the autoscaler at the Deployment\'s pods', () => {
    const labels = deployment.spec!.template.metadata!.labels!
    const service = one<IService>('v1/Service')
    const pdb = one<IPodDisruptionBudget>('policy/v1/PodDisruptionBudget')
    const hpa = one<IHorizontalPodAutoscaler>('autoscaling/v2/HorizontalPodAutoscaler')
    expect(labels).toMatchObject(service.spec!.selector!)
    expect(labels).toMatchObject(pdb.spec!.selector!.matchLabels!)
    expect(deployment.spec!.selector.matchLabels).toEqual(pdb.spec!.selector!.matchLabels)
    expect(service.spec!.ports![0]!.targetPort).toBe('http')
    expect(hpa.spec!.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata!.name })
    // With at least three, one pod may be disrupted and one restarting while logins go on.
    expect(hpa.spec!.minReplicas).toBeGreaterThanOrEqual(3)
    expect(pdb.spec!.maxUnavailable).toBe(1)
    expect(deployment.spec).not.toHaveProperty('replicas')
  })

  it('lets only the ingress controller and monitoring reach the pods, and trusts X-Forwarded-For from the ingress\'s addresses only', () => {
    const policy = one<INetworkPolicy>('networking.k8s.io/v1/NetworkPolicy')
    expect(deployment.spec!.template.metadata!.labels!).toMatchObject(policy.spec!.podSelector!.matchLabels!)
    expect(policy.spec!.policyTypes).toContain('Ingress')
    const rules = policy.spec!.ingress!
    // Every rule names who may connect (a rule without `from` admits everyone), on the bridge's port only.
    for (const rule of rules) {
      expect(rule.from?.length).toBeGreaterThan(0)
      for (const peer of rule.from!) expect(peer.podSelector?.matchLabels, 'a whole namespace or address block is admitted').toBeDefined()
      expect(rule.ports).toEqual([{ port: 'http', protocol: 'TCP' }])
    }
    expect(rules.map((r) => r.from![0]!.namespaceSelector!.matchLabels!['kubernetes.io/metadata.name'])).toEqual(['ingress-nginx', 'monitoring'])
    // No whole private network: at most a /24 of IPv4 addresses is trusted to say who the client is.
    const trusted = String(configMap.data!.TRUST_PROXY).split(',').map((s) => s.trim())
    for (const entry of trusted) expect(Number(entry.split('/')[1] ?? 32), entry).toBeGreaterThanOrEqual(24)
  })

  it('says what ESIA_CERT_HASH is: the GOST hash esia:cert-hash prints', () => {
    const text = readFileSync(path.join(DIR, 'configmap.yaml'), 'utf8')
    const comment = /((?:^ *#.*\n)+) *ESIA_CERT_HASH:/m.exec(text)![1]!
    expect(comment).toContain('GOST R 34.11-2012')
    expect(comment).toContain('npm run esia:cert-hash')
    expect(comment).not.toMatch(/^ *# *SHA-256/m)
  })
})
