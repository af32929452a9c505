import type { FastifyInstance } from 'fastify'
import type { FlowKind } from './flow-state.js'

/**
 * Flow counters in /metrics (abuse and health signals): started, finished by result, failed by
 * reason code, and callbacks refused (replayed, other browser, expired). Labels stay bounded: an
 * upstream error code that is not a plain code word is counted as `idp_error:other`.
 */
const IDP_CODE = /^idp_error:(?:ESIA-\d{6}|[a-z_]{1,40})$/
const reasonLabel = (reason: string) => (!reason.startsWith('idp_error:') || IDP_CODE.test(reason) ? reason : 'idp_error:other')

export function flowMetrics(app: FastifyInstance) {
  const started = app.metrics.counter('bridge_flows_started_total', 'Flows that sent a browser to the upstream IdP', ['flow'])
  const finished = app.metrics.counter('bridge_flows_finished_total', 'Flows that ended, by result (linked, failed, cancelled, logged_in)', ['flow', 'result'])
  const failed = app.metrics.counter('bridge_flows_failed_total', 'Failed flows by reason code (a flow with several reasons counts under each)', ['flow', 'reason'])
  const refused = app.metrics.counter('bridge_flow_callbacks_refused_total', 'Callbacks refused before any upstream call, by why', ['refusal'])
  return {
    started: (flow: FlowKind) => started.inc({ flow }),
    finished: (flow: FlowKind, result: string) => finished.inc({ flow, result }),
    failed: (flow: FlowKind, reasons: readonly string[]) => {
      for (const reason of new Set(reasons)) failed.inc({ flow, reason: reasonLabel(reason) })
    },
    refused: (refusal: string) => refused.inc({ refusal }),
  }
}
export type FlowMetrics = ReturnType<typeof flowMetrics>
