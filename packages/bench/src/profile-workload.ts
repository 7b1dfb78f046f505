/**
 * The profiled child (run with --cpu-prof): delivers one body size through one path in a loop
 * for a fixed time, then exits so Node writes the profile.
 */
import { performance } from 'node:perf_hooks'
import { buildBody } from './payload.js'
import { createOurWebhooks, ecampusHeaders, handWritten } from './receivers.js'

const [path = 'ours', bytes = '1024', seconds = '3'] = process.argv.slice(2)
const body = buildBody(Number(bytes))
const headers = ecampusHeaders(body)
const webhooks = createOurWebhooks()
const signature = headers['x-ecampus-signature']!

// Batches keep the clock reads out of the profile; a 1 MiB delivery is long enough on its own.
const batch = Math.max(1, Math.floor(65_536 / body.length))

/** Named, so the summary can count only the samples taken inside the loop. */
async function deliveryLoop(): Promise<number> {
  const deadline = performance.now() + Number(seconds) * 1000
  let deliveries = 0
  while (performance.now() < deadline) {
    for (let i = 0; i < batch; i += 1) {
      if (path === 'ours') {
        const response = await webhooks.handle({ method: 'POST', headers, body })
        if (response.status !== 200) throw new Error(response.body)
      } else if (!handWritten(body, signature)) {
        throw new Error('bad signature')
      }
    }
    deliveries += batch
  }
  return deliveries
}

process.send?.({ deliveries: await deliveryLoop() })
process.disconnect?.()
