import { sign as hmac } from '@ecampus-webhooks/core'
import { readStdin } from './read-input.js'
import { requireSecret } from './secret.js'

/** The signature header as eCampus spells it; Node keeps a name's case on the wire. */
export const SIGNATURE_NAME = 'x-eCampus-signature'

/** Options of the `sign` command. */
export interface SignOptions {
  /** The webhook secret; commander fills it from `$ECAMPUS_WEBHOOK_SECRET`. */
  secret?: string | undefined
}

/**
 * `ecampus-webhooks sign`: prints `x-eCampus-signature: <hex>` for the exact bytes on stdin (a
 * trailing newline included), ready for `curl -H "$(ecampus-webhooks sign < body.json)"`.
 *
 * @example
 * await sign({ secret: 'dev-secret' }) // with the body piped to stdin
 */
export async function sign(options: SignOptions): Promise<void> {
  const secret = requireSecret(options.secret)
  const body = await readStdin('pipe the body in, e.g. `ecampus-webhooks sign < body.json`')
  process.stdout.write(`${SIGNATURE_NAME}: ${hmac(body, secret)}\n`)
}
