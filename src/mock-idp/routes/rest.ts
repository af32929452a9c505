import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { bearerToken } from '../../http/auth.js'
import type { MockEsiaApp } from '../app-types.js'
import { collection, contacts, documents, grantedScopes, kids, parseEmbed, personResource, type Element } from '../person-data.js'
import type { Persona } from '../personas.js'
import { sendMalformedJson } from './esia-token.js'

const OidParams = Type.Object({ oid: Type.String({ pattern: '^\\d{1,20}$' }) })
const ElementParams = Type.Object({ oid: Type.String({ pattern: '^\\d{1,20}$' }), id: Type.String({ pattern: '^\\d{1,20}$' }) })
const EmbedQuery = Type.Object({ embed: Type.Optional(Type.String({ maxLength: 200 })) })
const RestError = Type.Object({ code: Type.String(), message: Type.String() })
const Json = Type.Object({}, { additionalProperties: true })
const responses = { 200: Json, 401: RestError, 403: RestError, 404: RestError }

/**
 * A child account whose parent has not consented in «Согласия и доверенности» (docs/sources.md: Камчатка slides): the
 * login itself succeeds (the ID token says `lvl: KD`), but ЕСИА releases none of the child's data,
 * so `/rs/prns/{oid}` answers 403. ЕСИА's consent errors are the ESIA-0367xx family
 * (docs/esia.md, «Errors»); which member applies here is not documented, 036700 stands for them.
 */
const CHILD_CONSENT_MISSING = { code: 'ESIA-036700', message: 'Отсутствует согласие законного представителя на передачу данных ребёнка' }

export async function restRoutes(app: MockEsiaApp) {
  const state = app.esia

  /** Bearer access token → the persona and the scopes granted for this oid; or an answer sent. */
  async function access(request: FastifyRequest<{ Params: { oid: string } }>, reply: FastifyReply): Promise<{ persona: Persona; granted: Set<string> } | undefined> {
    const token = bearerToken(request.headers.authorization)
    const claims = token ? await state.verifyOwnEsiaToken(token) : null
    if (!claims || claims.iss !== state.esiaIssuer || typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) {
      void reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ code: 'invalid_token', message: 'Маркер доступа недействителен или истёк' })
      return undefined
    }
    const { oid } = request.params
    const persona = state.personasByOid.get(oid)
    if (String(claims['urn:esia:sbj_id']) !== oid || !persona) {
      void reply.code(403).send({ code: 'access_denied', message: 'Маркер доступа выдан для другого субъекта' })
      return undefined
    }
    if (persona.level === 'KD' && !persona.childConsent) {
      void reply.code(403).send(CHILD_CONSENT_MISSING)
      return undefined
    }
    return { persona, granted: grantedScopes(claims.scope, oid) }
  }

  const forbidden = (reply: FastifyReply) => reply.code(403).send({ code: 'access_denied', message: 'Нет разрешения на доступ к запрошенным данным (scope)' })

  app.get('/rs/prns/:oid', { schema: { hide: true, params: OidParams, querystring: EmbedQuery, response: responses } }, async (request, reply) => {
    await state.delay()
    const ok = await access(request, reply)
    if (!ok) return reply
    const person = personResource(ok.persona, ok.granted)
    if (!person) return forbidden(reply)
    if (state.faults.malformedJson === 'person') return sendMalformedJson(reply)
    const base = `${state.baseUrl}/rs/prns/${ok.persona.oid}`
    const embed = parseEmbed(request.query.embed)
    const embedded: Record<string, unknown> = {}
    const parts: [string, string, Element[] | null][] = [
      ['contacts', 'ctts', contacts(ok.persona, ok.granted)],
      ['documents', 'docs', documents(ok.persona, ok.granted)],
      ['kids', 'kids', kids(ok.persona, ok.granted)],
    ]
    for (const [name, path, elements] of parts) {
      if (elements && embed.has(`${name}.elements`)) embedded[name] = collection(`${base}/${path}`, elements, true)
    }
    return reply.send({ ...person, ...embedded })
  })

  const collections: [string, typeof contacts][] = [['ctts', contacts], ['docs', documents], ['kids', kids]]
  for (const [path, list] of collections) {
    app.get(`/rs/prns/:oid/${path}`, { schema: { hide: true, params: OidParams, querystring: EmbedQuery, response: responses } }, async (request, reply) => {
      await state.delay()
      const ok = await access(request, reply)
      if (!ok) return reply
      const elements = list(ok.persona, ok.granted)
      if (!elements) return forbidden(reply)
      if (path === 'kids' && state.faults.malformedJson === 'kids') return sendMalformedJson(reply)
      return reply.send(collection(`${state.baseUrl}/rs/prns/${ok.persona.oid}/${path}`, elements, parseEmbed(request.query.embed).has('elements')))
    })
    app.get(`/rs/prns/:oid/${path}/:id`, { schema: { hide: true, params: ElementParams, response: responses } }, async (request, reply) => {
      await state.delay()
      const ok = await access(request, reply)
      if (!ok) return reply
      const elements = list(ok.persona, ok.granted)
      if (!elements) return forbidden(reply)
      const element = elements.find((e) => String(e.id) === request.params.id)
      if (!element) return reply.code(404).send({ code: 'not_found', message: 'Элемент не найден' })
      return reply.send(element)
    })
  }
}
