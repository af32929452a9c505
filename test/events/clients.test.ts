import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClientRegistry, loadClientsFile, type ClientFileEntry } from '../../src/oidc-provider/clients.js'
import { testConfig } from '../helpers/app.js'

/**
 * A journal's registration in CLIENTS_FILE says how it takes link events (pushed to its
 * events_endpoint, or polled) and where its logout tokens go; production wants https for both.
 */
const BASE: ClientFileEntry = { client_id: 'j', name: 'Журнал', client_secret: 's'.repeat(32), redirect_uris: ['https://journal.example/cb'] }

describe('event delivery in CLIENTS_FILE', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-clients-'))
  })
  afterAll(async () => rm(dir, { recursive: true, force: true }))
  const load = async (entry: Partial<ClientFileEntry>, production = false) => {
    const file = path.join(dir, 'clients.json')
    await writeFile(file, JSON.stringify([{ ...BASE, ...entry }]))
    return new ClientRegistry(await loadClientsFile(file, { requireHttps: production })).get('j')!
  }

  it('pushes to events_endpoint, polls with events_delivery poll, and sends nothing to a client that asked for nothing', async () => {
    expect((await load({ events_endpoint: 'https://journal.example/esia-events' })).events).toEqual({ delivery: 'push', endpoint: 'https://journal.example/esia-events' })
    expect((await load({ events_delivery: 'poll' })).events).toEqual({ delivery: 'poll' })
    const plain = await load({})
    expect(plain.events).toBeUndefined()
    expect(plain.backchannelLogout).toBeUndefined()
    expect((await load({ backchannel_logout_uri: 'https://journal.example/bcl' })).backchannelLogout).toEqual({ uri: 'https://journal.example/bcl', sessionRequired: false })
  })

  it('refuses registrations that contradict themselves or the standards', async () => {
    await expect(load({ events_delivery: 'push' })).rejects.toThrow(/events_endpoint is missing/)
    await expect(load({ events_delivery: 'poll', events_endpoint: 'https://journal.example/e' })).rejects.toThrow(/must not be set/)
    await expect(load({ backchannel_logout_uri: 'https://journal.example/bcl#x' })).rejects.toThrow(/fragment/)
  })

  it('in production refuses events and logout tokens over plain http', async () => {
    await expect(load({ events_endpoint: 'http://journal.example/e' }, true)).rejects.toThrow(/events_endpoint that is not https/)
    await expect(load({ backchannel_logout_uri: 'http://journal.example/bcl' }, true)).rejects.toThrow(/backchannel_logout_uri that is not https/)
    expect((await load({ events_endpoint: 'https://journal.example/e' }, true)).events?.delivery).toBe('push')
  })

  it('keeps delivered and refused events 7 days unless EVENTS_RETENTION_DAYS says otherwise', () => {
    expect(testConfig().eventsRetentionDays).toBe(7)
    expect(testConfig({ EVENTS_RETENTION_DAYS: '30' }).eventsRetentionDays).toBe(30)
    expect(() => testConfig({ EVENTS_RETENTION_DAYS: '0' })).toThrow(/EVENTS_RETENTION_DAYS/)
  })
})
