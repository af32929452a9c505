import type { FastifyInstance } from 'fastify'

/**
 * A 16×16 icon as a real .ico (one 32-bit BMP image), built from a colour at start: browsers ask
 * every server for /favicon.ico, and a 404 there is noise in the console and the logs. Each of the
 * three development servers has its own colour, so their tabs tell apart. The mark is a bridge: a
 * deck with two piers, white on the colour.
 */
export function favicon(rgb: [number, number, number]): Buffer {
  const size = 16
  const header = Buffer.alloc(6 + 16)
  header.writeUInt16LE(0, 0) // reserved
  header.writeUInt16LE(1, 2) // type: icon
  header.writeUInt16LE(1, 4) // one image
  const pixels = Buffer.alloc(size * size * 4)
  const mask = Buffer.alloc(size * 4) // AND mask rows padded to 32 bits; all zero: alpha decides
  const white = (x: number, y: number) => (y >= 5 && y <= 6 && x >= 2 && x <= 13) || (y >= 7 && y <= 12 && (x === 4 || x === 5 || x === 10 || x === 11))
  const corner = (x: number, y: number) => (x === 0 || x === size - 1) && (y === 0 || y === size - 1)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // BMP rows go bottom-up; each pixel is B, G, R, A.
      const at = ((size - 1 - y) * size + x) * 4
      const [r, g, b] = white(x, y) ? [255, 255, 255] : rgb
      pixels[at] = b
      pixels[at + 1] = g
      pixels[at + 2] = r
      pixels[at + 3] = corner(x, y) ? 0 : 255
    }
  }
  const info = Buffer.alloc(40)
  info.writeUInt32LE(40, 0)
  info.writeInt32LE(size, 4)
  info.writeInt32LE(size * 2, 8) // height counts the image and its mask
  info.writeUInt16LE(1, 12) // planes
  info.writeUInt16LE(32, 14) // bits per pixel
  info.writeUInt32LE(pixels.length + mask.length, 20)
  const image = Buffer.concat([info, pixels, mask])
  header.writeUInt8(size, 6)
  header.writeUInt8(size, 7)
  header.writeUInt8(0, 8) // no palette
  header.writeUInt8(0, 9)
  header.writeUInt16LE(1, 10)
  header.writeUInt16LE(32, 12)
  header.writeUInt32LE(image.length, 14)
  header.writeUInt32LE(header.length, 18)
  return Buffer.concat([header, image])
}

/** GET /favicon.ico on `app`, cached for a day. */
export function serveFavicon(app: FastifyInstance, rgb: [number, number, number]): void {
  const icon = favicon(rgb)
  app.get('/favicon.ico', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=86400').type('image/x-icon').send(icon),
  )
}

export const BRIDGE_COLOUR: [number, number, number] = [11, 74, 162]
export const MOCK_COLOUR: [number, number, number] = [196, 33, 47]
export const JOURNAL_COLOUR: [number, number, number] = [46, 125, 50]
