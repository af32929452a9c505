import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { generateOpenApiDocument } from '../src/openapi.js'

describe('openapi/openapi.json', () => {
  it('matches the route schemas (run `npm run openapi` after changing a route)', async () => {
    const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
    expect(JSON.parse(committed)).toEqual(JSON.parse(await generateOpenApiDocument()))
  })
})
