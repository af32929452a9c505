// tsc compiles TypeScript only; the SQL migrations and static files ship next to the compiled code.
import { cp } from 'node:fs/promises'

await cp('src/db/migrations', 'dist/db/migrations', { recursive: true })
await cp('src/web/static', 'dist/web/static', { recursive: true })
await cp('src/demo-journal/static', 'dist/demo-journal/static', { recursive: true })
