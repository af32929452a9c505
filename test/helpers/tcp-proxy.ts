import net from 'node:net'

/**
 * A TCP proxy between the bridge and PostgreSQL, to take the database away mid-run and give it
 * back: `close()` refuses new connections and cuts the open ones (a database that went away),
 * `stall()` accepts and holds connections but passes nothing on (a network that drops packets),
 * `open()` serves new connections again — the stalled ones stay stalled, as connections to an old
 * primary do after a failover.
 */
export class TcpProxy {
  readonly #pairs = new Set<{ client: net.Socket; server: net.Socket | undefined }>()
  #listener: net.Server | undefined
  #stalled = false

  private constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  /** A proxy to the server of `databaseUrl`, open. */
  static async start(databaseUrl: string): Promise<TcpProxy> {
    const url = new URL(databaseUrl)
    const probe = net.createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) }, port)
    await proxy.open()
    return proxy
  }

  /** `databaseUrl` with the proxy in place of the server. */
  urlFor(databaseUrl: string): string {
    const url = new URL(databaseUrl)
    url.hostname = '127.0.0.1'
    url.port = String(this.port)
    return url.href
  }

  async open(): Promise<void> {
    this.#stalled = false
    if (this.#listener) return
    const listener = net.createServer((client) => this.#accept(client))
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject)
      listener.listen(this.port, '127.0.0.1', () => resolve())
    })
    this.#listener = listener
  }

  /** Refuses new connections and cuts every open one. */
  async close(): Promise<void> {
    const listener = this.#listener
    this.#listener = undefined
    this.#cutAll()
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()))
  }

  /** Keeps accepting, but from now on nothing passes either way. */
  stall(): void {
    this.#stalled = true
    for (const { client, server } of this.#pairs) {
      client.unpipe()
      server?.unpipe()
      client.pause()
      server?.pause()
    }
  }

  #cutAll(): void {
    for (const { client, server } of this.#pairs) {
      client.destroy()
      server?.destroy()
    }
    this.#pairs.clear()
  }

  #accept(client: net.Socket): void {
    const pair: { client: net.Socket; server: net.Socket | undefined } = { client, server: undefined }
    this.#pairs.add(pair)
    client.on('error', () => {})
    client.on('close', () => {
      pair.server?.destroy()
      this.#pairs.delete(pair)
    })
    if (this.#stalled) {
      client.pause()
      return
    }
    const server = net.connect(this.target.port, this.target.host)
    pair.server = server
    server.on('error', () => client.destroy())
    server.on('close', () => client.destroy())
    client.pipe(server)
    server.pipe(client)
  }
}
