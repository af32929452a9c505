import type { ApiCaller } from '../http/auth.js'
import type { AuditActor } from '../linking/audit.js'

/** Who the audit trail names for a directory write: the journal client, or `bootstrap` automation. */
export function directoryActor(caller: ApiCaller): AuditActor {
  return caller.kind === 'journal' ? { kind: 'journal', id: caller.client.clientId } : { kind: 'support', id: 'bootstrap' }
}
