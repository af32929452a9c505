import type { FastifyInstance } from 'fastify'
import { Type, type Static } from 'typebox'
import { authenticateApiCaller, authenticateClient } from '../http/auth.js'
import { badRequest, notFound } from '../http/errors.js'
import { withTransaction } from '../db/pool.js'
import { findLink, removeLink } from '../linking/links.js'
import { createLinkIntent } from './link-intents.js'

/**
 * The journal's side of the link flow (docs/architecture.md, «How a link travels»): its backend asks for a link intent for
 * the user who pressed «Привязать пользователя портала гос. услуг» and sends the browser to `url`;
 * later it can ask what the link state of a user is.
 */
const ApiErrorBody = Type.Object({ error: Type.String(), message: Type.String() })

const JournalUserId = Type.String({ minLength: 1, maxLength: 128 })
const LinkIntentRequest = Type.Object(
  {
    journal_user_id: JournalUserId,
    redirect_uri: Type.String({ minLength: 1, maxLength: 2000, description: 'One of the client\'s registered redirect URIs, exactly' }),
    state: Type.String({ minLength: 1, maxLength: 512, description: 'Returned unchanged with the code; bind it to the journal session' }),
  },
  { additionalProperties: false },
)
type LinkIntentRequest = Static<typeof LinkIntentRequest>

const LinkIntentResponse = Type.Object({
  intent_id: Type.String(),
  url: Type.String({ description: 'Send the person\'s browser here (single use, bound to the first browser that opens it)' }),
  expires_at: Type.String({ format: 'date-time' }),
})

const LinkState = Type.Object({
  journal_user_id: Type.String(),
  linked: Type.Boolean(),
  linked_at: Type.Optional(Type.String({ format: 'date-time' })),
  method: Type.Optional(Type.String({ description: 'link, auto, support_override or support_move' })),
  evidence: Type.Optional(Type.Array(Type.String(), { description: 'Fields that agreed when the link was made' })),
  trusted: Type.Optional(Type.Boolean()),
  last_login_at: Type.Optional(Type.String({ format: 'date-time' })),
})

export async function linkApiRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Body: LinkIntentRequest }>(
    '/api/v1/link-intents',
    {
      schema: {
        tags: ['link'],
        summary: 'Start linking a journal user to Госуслуги: returns the URL to send the browser to',
        security: [{ journalClient: [] }],
        body: LinkIntentRequest,
        response: { 201: LinkIntentResponse, 400: ApiErrorBody, 401: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const client = authenticateClient(request)
      const { journal_user_id: journalUserId, redirect_uri: redirectUri, state } = request.body
      // RFC 9700 §2.1: exact string match, so the code can only ever travel to a registered place.
      if (!client.redirectUris.has(redirectUri)) throw badRequest('invalid_redirect_uri', 'redirect_uri is not registered for this client (exact match required)')
      const { rows } = await app.db.query('SELECT 1 FROM journal_users WHERE id = $1', [journalUserId])
      if (rows.length === 0) throw notFound('journal_user_not_found', 'No journal user with this id: send the card to /api/v1/directory/users first')
      const intent = await createLinkIntent(app.db, { clientId: client.clientId, journalUserId, redirectUri, clientState: state })
      return reply.code(201).header('cache-control', 'no-store').send({
        intent_id: intent.id,
        url: `${app.config.publicUrl}/link/${intent.id}`,
        expires_at: intent.expiresAt.toISOString(),
      })
    },
  )

  app.get<{ Params: { journal_user_id: string } }>(
    '/api/v1/links/:journal_user_id',
    {
      schema: {
        tags: ['link'],
        summary: 'Whether a journal user is linked to Госуслуги, and how',
        security: [{ journalClient: [] }, { bearer: [] }],
        params: Type.Object({ journal_user_id: JournalUserId }),
        response: { 200: LinkState, 401: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      authenticateApiCaller(request)
      const journalUserId = request.params.journal_user_id
      const link = await findLink(app.db, journalUserId)
      if (!link) {
        const { rows } = await app.db.query('SELECT 1 FROM journal_users WHERE id = $1', [journalUserId])
        if (rows.length === 0) throw notFound('journal_user_not_found', 'No journal user with this id')
        return { journal_user_id: journalUserId, linked: false }
      }
      return {
        journal_user_id: journalUserId,
        linked: true,
        linked_at: link.createdAt.toISOString(),
        method: link.method,
        evidence: link.evidence,
        ...(link.trusted !== null ? { trusted: link.trusted } : {}),
        ...(link.lastLoginAt ? { last_login_at: link.lastLoginAt.toISOString() } : {}),
      }
    },
  )

  // The person's own «Отвязать учётную запись Госуслуг» in the journal: the journal has
  // authenticated them, so the removal is theirs (actor: person), made through this client.
  app.delete<{ Params: { journal_user_id: string } }>(
    '/api/v1/links/:journal_user_id',
    {
      schema: {
        tags: ['link'],
        summary: 'Unlink a journal user from Госуслуги at the person\'s own request',
        description:
          'For «Отвязать учётную запись Госуслуг» in the journal\'s settings, pressed by the person signed in as this user. ' +
          'Audited as the person\'s request (`link.removed`, actor `person`, details `{client_id, via: "journal"}`); every journal hears ' +
          'link-removed with `by: person`. Answers the new state; a user without a link is answered `linked: false` and nothing is written.',
        security: [{ journalClient: [] }],
        params: Type.Object({ journal_user_id: JournalUserId }),
        response: { 200: LinkState, 401: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const client = authenticateClient(request)
      const journalUserId = request.params.journal_user_id
      await withTransaction(app.db, async (tx) => {
        const { rows } = await tx.query('SELECT 1 FROM journal_users WHERE id = $1 FOR UPDATE', [journalUserId])
        if (rows.length === 0) throw notFound('journal_user_not_found', 'No journal user with this id')
        const link = await findLink(tx, journalUserId)
        if (!link) return
        await removeLink(tx, {
          journalUserId,
          actor: { kind: 'person', id: link.upstreamSubject },
          reason: 'unlinked by the person in the journal',
          details: { client_id: client.clientId, via: 'journal', destroyed: ['upstream_subject', 'link_evidence'] },
        })
      })
      return reply.header('cache-control', 'no-store').send({ journal_user_id: journalUserId, linked: false })
    },
  )
}
