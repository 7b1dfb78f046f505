// One place for the settings the three processes and the sender share, read from the environment.
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
// A demo secret so `node start.js` runs as is; set ECAMPUS_WEBHOOK_SECRET for anything real.
export const SECRET = process.env.ECAMPUS_WEBHOOK_SECRET ?? 'whsec_scale_out_demo_secret'
// Receivers and workers must agree on the queue (name and BullMQ prefix).
export const QUEUE = {
  queueName: process.env.QUEUE_NAME ?? 'ecampus-webhooks',
  connection: { url: REDIS_URL },
}
// Where the worker keeps its idempotency keys and the demo's "handled" tally.
export const KEY_PREFIX = process.env.KEY_PREFIX ?? 'scale-out'
export const HANDLED_KEY = `${KEY_PREFIX}:handled`

/** Tells the parent (start.js, or a test) over IPC, when there is one. */
export function tell(message) {
  if (process.send) process.send(message)
}
