import { createHmac } from 'node:crypto'
import { Webhooks } from '@ecampus-webhooks/core'
import { createSampleEvent } from '@ecampus-webhooks/core/testing'
import { describe, expect, it } from 'vitest'

const SECRET = 'whsec_tamper-matrix'
const BODY_SIZE = 1024

/** A signed `message.created` body of exactly 1 KiB (the message text pads it). */
function signedKiB(): { body: Buffer; signature: string } {
  const event = createSampleEvent('message.created', { id: 'tamperMatrix0001' })
  const bare = JSON.stringify(event).length
  const padded = createSampleEvent('message.created', {
    id: 'tamperMatrix0001',
    payload: { message: event.payload.message + 'x'.repeat(BODY_SIZE - bare) },
  })
  const body = Buffer.from(JSON.stringify(padded))
  // Signed here, not with the package's sign(): the matrix must not trust the code under test.
  return { body, signature: createHmac('sha256', SECRET).update(body).digest('hex') }
}

function receiver(): { webhooks: Webhooks; calls: () => number } {
  const webhooks = new Webhooks({ secret: SECRET })
  let calls = 0
  webhooks.onAny(() => {
    calls += 1
  })
  webhooks.on('message.created', () => {
    calls += 1
  })
  return { webhooks, calls: () => calls }
}

interface Tally {
  cases: number
  /** The first few cases that were not answered 401 SIGNATURE_INVALID, for the failure message. */
  wrong: string[]
}

async function expectRejected(
  webhooks: Webhooks,
  body: Buffer,
  signature: string,
  label: string,
  tally: Tally,
): Promise<void> {
  tally.cases += 1
  const response = await webhooks.handle({
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-ecampus-signature': signature },
    body,
  })
  if (response.status !== 401 || response.error?.code !== 'SIGNATURE_INVALID') {
    if (tally.wrong.length < 10) tally.wrong.push(`${label}: ${response.status} ${response.body}`)
  }
}

describe('tamper matrix on a 1 KiB signed body (handle(), raw bytes)', () => {
  const { body, signature } = signedKiB()

  it('the untampered body is accepted, so every rejection below is caused by the tampering', async () => {
    expect(body.length).toBe(BODY_SIZE)
    const { webhooks, calls } = receiver()
    const response = await webhooks.handle({
      method: 'POST',
      headers: { 'x-ecampus-signature': signature },
      body,
    })
    expect(response.status).toBe(200)
    expect(calls()).toBe(2)
  })

  it('every single-bit flip of the body (8192 cases) is 401 SIGNATURE_INVALID, no handler runs', async () => {
    const { webhooks, calls } = receiver()
    const tally: Tally = { cases: 0, wrong: [] }
    for (let bit = 0; bit < BODY_SIZE * 8; bit += 1) {
      const tampered = Buffer.from(body)
      tampered[bit >> 3] = tampered[bit >> 3]! ^ (1 << (bit & 7))
      await expectRejected(webhooks, tampered, signature, `bit ${bit}`, tally)
    }
    expect(tally.wrong).toEqual([])
    expect(tally.cases).toBe(8192)
    expect(calls()).toBe(0)
  })

  it('every single-hex-digit change of the signature (64 x 15 cases) is 401, no handler runs', async () => {
    const { webhooks, calls } = receiver()
    const tally: Tally = { cases: 0, wrong: [] }
    const digits = '0123456789abcdef'
    for (let position = 0; position < 64; position += 1) {
      for (const digit of digits) {
        if (digit === signature[position]) continue
        const changed = signature.slice(0, position) + digit + signature.slice(position + 1)
        await expectRejected(webhooks, body, changed, `digit ${position} -> ${digit}`, tally)
      }
    }
    expect(tally.wrong).toEqual([])
    expect(tally.cases).toBe(64 * 15)
    expect(calls()).toBe(0)
  })

  it('truncating or extending the body or the signature by 1..16 (64 cases) is 401, no handler runs', async () => {
    const { webhooks, calls } = receiver()
    const tally: Tally = { cases: 0, wrong: [] }
    for (let n = 1; n <= 16; n += 1) {
      await expectRejected(
        webhooks,
        body.subarray(0, BODY_SIZE - n),
        signature,
        `body -${n}`,
        tally,
      )
      // Trailing spaces keep the JSON valid: only the signature can tell.
      const extended = Buffer.concat([body, Buffer.alloc(n, 0x20)])
      await expectRejected(webhooks, extended, signature, `body +${n}`, tally)
      await expectRejected(webhooks, body, signature.slice(0, 64 - n), `signature -${n}`, tally)
      const longer = signature + signature.slice(0, n)
      await expectRejected(webhooks, body, longer, `signature +${n}`, tally)
    }
    expect(tally.wrong).toEqual([])
    expect(tally.cases).toBe(64)
    expect(calls()).toBe(0)
  })
})
