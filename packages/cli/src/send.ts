import { sign } from '@ecampus-webhooks/core'
import { CliError, EXIT } from './cli-error.js'
import { eventBody } from './event-body.js'
import { printable } from './format.js'
import { displayUrl, post } from './post.js'
import { requireSecret } from './secret.js'
import { SIGNATURE_NAME } from './sign.js'

/** Options of the `send` command. */
export interface SendOptions {
  /** Where to POST, e.g. `http://127.0.0.1:3000/webhooks`. */
  url: string
  /** The webhook secret; commander fills it from `$ECAMPUS_WEBHOOK_SECRET`. */
  secret?: string | undefined
  /** A JSON file to send instead of the sample, or `-` for stdin. */
  data?: string | undefined
  /** The envelope id. @default a random 16-character id */
  id?: string | undefined
  /** Milliseconds to wait for the answer. @default 30000 */
  timeout: number
}

/**
 * `ecampus-webhooks send <event-type> --url <url>`: signs an event like eCampus (hex HMAC-SHA256
 * of the exact bytes sent), POSTs it, prints the exchange and resolves when the answer is 2xx;
 * otherwise rejects with a CliError (exit 1).
 *
 * @example
 * await send('message.created', { url: 'http://127.0.0.1:3000/webhooks', timeout: 30_000 }, '0.1.0')
 */
export async function send(type: string, options: SendOptions, version: string): Promise<void> {
  const url = parseUrl(options.url)
  const secret = requireSecret(options.secret)
  const event = await eventBody(type, options)
  const headers = {
    'Content-Type': 'application/json',
    'User-Agent': `ecampus-webhooks-cli/${version}`,
    [SIGNATURE_NAME]: sign(event.body, secret),
  }
  const target = displayUrl(url)
  process.stdout.write(
    `> POST ${target}  ${event.type} ${event.id}  (${event.body.length} bytes)\n`,
  )
  const result = await post(url, event.body, { headers, timeout: options.timeout })
  const ms = result.ms < 10 ? result.ms.toFixed(1) : Math.round(result.ms).toString()
  process.stdout.write(`< ${result.status} ${printable(result.statusText)}  ${ms} ms\n`)
  if (result.body !== '') {
    // Escaped like everything else from the network, line breaks kept so HTML stays readable.
    const lines = result.body.replace(/\r?\n$/, '').split(/\r?\n/)
    process.stdout.write(`${lines.map(printable).join('\n')}\n`)
  }
  if (result.omitted > 0) process.stdout.write(`… ${result.omitted} more bytes not shown\n`)
  if (result.status < 200 || result.status > 299) {
    throw new CliError(`${target} answered ${result.status}, not 2xx`, EXIT.REJECTED)
  }
}

function parseUrl(text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new CliError(
      `--url ${JSON.stringify(text)} is not a URL; pass one like http://127.0.0.1:3000/webhooks`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`--url must be http:// or https://, got ${url.protocol}`)
  }
  return url
}
