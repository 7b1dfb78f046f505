import { isUtf8 } from 'node:buffer'
import { createHmac } from 'node:crypto'
import { parseEvent } from '@ecampus-webhooks/core'
import type { AnyWebhookEvent, WebhookRequest } from '@ecampus-webhooks/core'
import { sign as ecampusSign } from '@ecampus-webhooks/core/testing'
import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import Stripe from 'stripe'
import { Webhook as SvixWebhook } from 'svix'
import {
  SECRET,
  createOctokitWebhooks,
  createOurWebhooks,
  ecampusHeaders,
  handWritten,
  readStream,
  streamOf,
} from './receivers.js'

// Each peer's secret in its own format: Standard Webhooks and Svix take base64 (Svix with its
// `whsec_` prefix), Stripe an opaque `whsec_` string.
const STANDARD_SECRET = Buffer.from('bench-secret-standard-webhooks!!').toString('base64')
const SVIX_SECRET = `whsec_${Buffer.from('bench-secret-svix-webhooks-32b!!').toString('base64')}`
const STRIPE_SECRET = 'whsec_bench_secret_0123456789abcdef'

// secure-json-parse 4.x's own patterns (index.js), which the core's parseEvent ran over every
// body after JSON.parse: copied to time them alone.
const SUSPECT_PROTO =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/
const SUSPECT_CONSTRUCTOR =
  /"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/

/** What each row's group is, for the tables. */
export type RowGroup = 'floor' | 'hand-written' | 'ours' | 'peer' | 'breakdown'

/** One in-process benchmark row: a function doing one event's work on a prepared fixture. */
export interface Row {
  name: string
  group: RowGroup
  /** True when the row rejects a tampered body (floor and breakdown rows only measure). */
  verifies: boolean
  /** Prepares the per-size state (signatures, headers, instances); called again per round. */
  prepare(body: Buffer): (() => unknown) | Promise<() => unknown>
}

function hmac(body: Buffer): Buffer {
  return createHmac('sha256', SECRET).update(body).digest()
}

/**
 * Every row, in table order. Rows that verify throw (or reject) when the signature does not
 * hold, so a row can never be fast by accepting garbage; the smoke test checks that.
 */
export function createRows(): Row[] {
  const stripe = new Stripe('sk_test_bench_not_a_real_key')

  return [
    {
      name: 'floor: HMAC only',
      group: 'floor',
      verifies: false,
      prepare: (body) => () => hmac(body),
    },
    {
      name: 'floor: JSON.parse only',
      group: 'floor',
      verifies: false,
      prepare: (body) => () => JSON.parse(body.toString('utf8')) as unknown,
    },
    {
      name: 'floor: HMAC + JSON.parse',
      group: 'floor',
      verifies: false,
      prepare: (body) => () => {
        hmac(body)
        return JSON.parse(body.toString('utf8')) as unknown
      },
    },
    {
      name: 'hand-written',
      group: 'hand-written',
      verifies: true,
      prepare: (body) => {
        const header = ecampusSign(body, SECRET)
        return () => {
          if (!handWritten(body, header)) throw new Error('hand-written: bad signature')
        }
      },
    },
    {
      name: 'ours: verifyAndReceive',
      group: 'ours',
      verifies: true,
      prepare: (body) => {
        const webhooks = createOurWebhooks()
        const input = { rawBody: body, signature: ecampusSign(body, SECRET) }
        return () => webhooks.verifyAndReceive(input)
      },
    },
    {
      name: 'ours: handle() (pre-read body)',
      group: 'ours',
      verifies: true,
      prepare: (body) => {
        const webhooks = createOurWebhooks()
        const request: WebhookRequest = { method: 'POST', headers: ecampusHeaders(body), body }
        return async () => {
          const response = await webhooks.handle(request)
          if (response.status !== 200) throw new Error(`handle(): ${response.body}`)
        }
      },
    },
    {
      name: '@octokit/webhooks-methods verify + parse',
      group: 'peer',
      verifies: true,
      prepare: async (body) => {
        const signature = await octokitSign(SECRET, body.toString('utf8'))
        return async () => {
          // The payload must be a string: decoding is part of this peer's job.
          const text = body.toString('utf8')
          if (!(await octokitVerify(SECRET, text, signature))) throw new Error('octokit: mismatch')
          return JSON.parse(text) as unknown
        }
      },
    },
    {
      name: '@octokit/webhooks verifyAndReceive',
      group: 'peer',
      verifies: true,
      prepare: async (body) => {
        const webhooks = createOctokitWebhooks()
        const signature = await octokitSign(SECRET, body.toString('utf8'))
        return () =>
          webhooks.verifyAndReceive({
            id: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
            name: 'push',
            payload: body.toString('utf8'),
            signature,
          })
      },
    },
    {
      name: 'standardwebhooks Webhook.verify',
      group: 'peer',
      verifies: true,
      prepare: (body) => {
        const webhook = new StandardWebhook(STANDARD_SECRET)
        const id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W'
        // Signed now: the verifier rejects timestamps over five minutes old.
        const timestamp = new Date()
        const headers = {
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': webhook.sign(id, timestamp, body),
        }
        return () => webhook.verify(body, headers)
      },
    },
    {
      name: 'svix Webhook.verify',
      group: 'peer',
      verifies: true,
      prepare: (body) => {
        const webhook = new SvixWebhook(SVIX_SECRET)
        const id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W'
        const timestamp = new Date()
        const headers = {
          'svix-id': id,
          'svix-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'svix-signature': webhook.sign(id, timestamp, body),
        }
        return () => webhook.verify(body, headers)
      },
    },
    {
      name: 'stripe constructEvent',
      group: 'peer',
      verifies: true,
      prepare: (body) => {
        const header = stripe.webhooks.generateTestHeaderString({
          payload: body.toString('utf8'),
          secret: STRIPE_SECRET,
        })
        return () => stripe.webhooks.constructEvent(body, header, STRIPE_SECRET)
      },
    },
    // Our path taken apart, to attribute its cost (see the profile section of BENCHMARKS.md).
    {
      name: 'breakdown: webhooks.verify (hex decode + HMAC + compare)',
      group: 'breakdown',
      verifies: true,
      prepare: (body) => {
        const webhooks = createOurWebhooks()
        const signature = ecampusSign(body, SECRET)
        return () => {
          if (!webhooks.verify(body, signature)) throw new Error('verify: mismatch')
        }
      },
    },
    {
      name: 'breakdown: parseEvent (UTF-8 check + decode + safe parse)',
      group: 'breakdown',
      verifies: false,
      prepare: (body) => () => parseEvent(body),
    },
    {
      name: 'breakdown: webhooks.receive (dispatch only)',
      group: 'breakdown',
      verifies: false,
      prepare: (body) => {
        const webhooks = createOurWebhooks()
        const event = JSON.parse(body.toString('utf8')) as AnyWebhookEvent
        return () => webhooks.receive(event)
      },
    },
    {
      name: 'breakdown: Buffer.toString (UTF-8 decode)',
      group: 'breakdown',
      verifies: false,
      prepare: (body) => () => body.toString('utf8'),
    },
    {
      name: 'breakdown: JSON.parse of a string',
      group: 'breakdown',
      verifies: false,
      prepare: (body) => {
        const text = body.toString('utf8')
        return () => JSON.parse(text) as unknown
      },
    },
    // The stream path the adapters take, against the hand-written reader of the HTTP routes.
    {
      name: 'breakdown: hand-written reading a stream',
      group: 'breakdown',
      verifies: true,
      prepare: (body) => {
        const header = ecampusSign(body, SECRET)
        return async () => {
          if (!handWritten(await readStream(streamOf(body)), header)) {
            throw new Error('hand-written: bad signature')
          }
        }
      },
    },
    {
      name: 'breakdown: handle() reading a stream',
      group: 'breakdown',
      verifies: true,
      prepare: (body) => {
        const webhooks = createOurWebhooks()
        const headers = ecampusHeaders(body)
        return async () => {
          const response = await webhooks.handle({
            method: 'POST',
            headers,
            body: streamOf(body),
          })
          if (response.status !== 200) throw new Error(`handle(): ${response.body}`)
        }
      },
    },
    {
      name: 'breakdown: isUtf8 (validation pass)',
      group: 'breakdown',
      verifies: false,
      prepare: (body) => () => isUtf8(body),
    },
    {
      name: 'breakdown: secure-json-parse key scans (2 regexes)',
      group: 'breakdown',
      verifies: false,
      prepare: (body) => {
        const text = body.toString('utf8')
        return () => SUSPECT_PROTO.test(text) || SUSPECT_CONSTRUCTOR.test(text)
      },
    },
  ]
}
