import { writeFile } from 'node:fs/promises'
import { generateOpenApiDocument } from '../src/openapi.js'

await writeFile('openapi/openapi.json', await generateOpenApiDocument())
process.stdout.write('openapi/openapi.json written\n')
