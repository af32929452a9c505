import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { startEmbeddedPostgres } from '../src/db/embedded.js'
import { migrate } from '../src/db/migrate.js'
import { databaseUrlFor, dropStaleTestDatabases } from './helpers/db-admin.js'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseAdminUrl: string
    templateDatabase: string
  }
}

/**
 * One real PostgreSQL for the run, chosen as the project rules say: DATABASE_URL when set, else
 * the embedded server from npm, else a testcontainers PostgreSQL where Docker exists. The schema is
 * migrated once into a template database; each test file clones it (test/helpers/db.ts).
 */
export default async function setup(project: TestProject) {
  let adminUrl = process.env.DATABASE_URL
  let stopServer = async () => {}
  if (adminUrl) {
    console.log('[tests] PostgreSQL from DATABASE_URL')
  } else {
    try {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-test-'))
      const { chmod } = await import('node:fs/promises')
      await chmod(dir, 0o777)
      const embedded = await startEmbeddedPostgres(path.join(dir, 'pg'))
      adminUrl = embedded.url
      stopServer = async () => {
        await embedded.stop()
        await rm(dir, { recursive: true, force: true })
      }
      console.log('[tests] DATABASE_URL not set: embedded PostgreSQL')
    } catch (embeddedErr) {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql')
      try {
        const container = await new PostgreSqlContainer('postgres:16-alpine').start()
        adminUrl = container.getConnectionUri()
        stopServer = async () => void (await container.stop())
        console.log('[tests] embedded PostgreSQL failed, using testcontainers')
      } catch (containerErr) {
        throw new Error(`No PostgreSQL for tests: set DATABASE_URL. Embedded: ${(embeddedErr as Error).message}; testcontainers: ${(containerErr as Error).message}`)
      }
    }
  }

  await dropStaleTestDatabases(adminUrl)
  const template = `esia_tpl_${process.pid}_${Date.now().toString(36)}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${template}`)
  await admin.end()
  await migrate(databaseUrlFor(adminUrl, template))

  project.provide('databaseAdminUrl', adminUrl)
  project.provide('templateDatabase', template)

  return async () => {
    const c = new pg.Client({ connectionString: adminUrl })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => {})
    await c.end()
    await stopServer()
  }
}
