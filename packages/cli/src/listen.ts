import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhooks } from '@ecampus-webhooks/core'
import type { AnyWebhookEvent, RejectionInfo, WebhookError } from '@ecampus-webhooks/core'
import { CliError, EXIT } from './cli-error.js'
import { clock, formatPayload, printable } from './format.js'
import { requireSecret } from './secret.js'

/** Options of the `listen` command. */
export interface ListenOptions {
  /** The port; 0 picks a free one (the printed URL shows it). @default 3000 */
  port: number
  /** The interface to bind. @default '127.0.0.1' (this machine only) */
  host: string
  /** The webhook path. @default '/webhooks' */
  path: string
  /** The webhook secret; commander fills it from `$ECAMPUS_WEBHOOK_SECRET`. */
  secret?: string | undefined
}

// A stuck client must not keep a stopped receiver alive forever.
const SHUTDOWN_GRACE = 5_000
const INDENT = '    '

/**
 * `ecampus-webhooks listen`: a local receiver on node:http whose every answer comes from the
 * core's `Webhooks#handle()`, so it behaves exactly like the adapters. Prints each verified event
 * and each refused request; resolves once SIGINT or SIGTERM has stopped it gracefully.
 *
 * @example
 * await listen({ port: 3000, host: '127.0.0.1', path: '/webhooks', secret: 'dev-secret' })
 */
export async function listen(options: ListenOptions): Promise<void> {
  const secret = requireSecret(options.secret)
  if (!options.path.startsWith('/')) {
    throw new CliError(`--path must start with "/", got ${JSON.stringify(options.path)}`)
  }
  const webhooks = new Webhooks({ secret, path: options.path })
  webhooks.onAny(printEvent)
  webhooks.onRejected(printRejected)

  const server = createServer((req, res) => {
    const target = req.url ?? '/'
    if (!webhooks.matchesPath(target)) {
      // Said out loud: a sender pointed at the wrong path is the usual local-setup mistake.
      print(
        `${clock()}  404 ${printable(req.method ?? '')} ${printable(target)}  (not the webhook path ${webhooks.path})`,
      )
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end(`Not found: POST webhooks to ${webhooks.path}\n`)
      return
    }
    webhooks
      .handle({ method: req.method ?? 'GET', headers: req.headers, body: req })
      .then((response) => {
        if (res.headersSent || res.destroyed) return
        res.writeHead(response.status, response.headers).end(response.body)
      })
      // handle() never rejects; only writing can fail, and then the response is beyond repair.
      .catch(() => res.destroy())
  })

  await bind(server, options)
  // Signal handlers first: whoever reads the URL may signal at once (a test, a process manager).
  const stopped = stopOnSignal(server, webhooks)
  print(`Listening on ${urlOf(server, options.path)}  (Ctrl+C to stop)`)
  await stopped
}

function printEvent(event: AnyWebhookEvent): void {
  const lines = formatPayload(event.payload).map((line) => `${INDENT}${line}`)
  print(`${clock()}  ${printable(event.type)}  ${printable(event.id)}\n${lines.join('\n')}`)
}

function printRejected(error: WebhookError, info: RejectionInfo): void {
  print(`${clock()}  ${info.status} ${info.code}  ${printable(info.method)}  ${error.message}`)
}

function print(line: string): void {
  process.stdout.write(`${line}\n`)
}

function bind(server: Server, options: ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason = listenFailure(error, options)
      reject(new CliError(`cannot listen: ${reason}`, EXIT.NETWORK))
    })
    server.listen(options.port, options.host, resolve)
  })
}

function listenFailure(error: NodeJS.ErrnoException, { host, port }: ListenOptions): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return `${host} port ${port} is already in use; pick another with --port (0 picks a free one)`
    case 'EACCES':
      return `no permission to listen on ${host} port ${port}; use a port above 1023`
    case 'EADDRNOTAVAIL':
      return `${JSON.stringify(host)} is not an address of this machine (try --host 127.0.0.1)`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${JSON.stringify(host)} not found (try --host 127.0.0.1)`
    default:
      return `${error.code ?? 'error'}: ${error.message.replace(/\s+/g, ' ')}`
  }
}

function urlOf(server: Server, path: string): string {
  const { address, port } = server.address() as AddressInfo
  const host = address.includes(':') ? `[${address}]` : address
  return `http://${host}:${port}${path}`
}

/**
 * Resolves after the first SIGINT/SIGTERM has closed the server and the handlers have drained.
 * Requests in flight finish; idle keep-alive connections close at once, busy ones after a grace
 * period or a second signal.
 */
function stopOnSignal(server: Server, webhooks: Webhooks): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        server.closeAllConnections()
        return
      }
      stopping = true
      print(`${signal}: stopping…`)
      server.close(() => {
        void webhooks.drain().then(() => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          print('Stopped.')
          resolve()
        })
      })
      server.closeIdleConnections()
      setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE).unref()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
