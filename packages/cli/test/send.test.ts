import { randomUUID } from 'node:crypto'
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { EVENT_TYPES, parseEvent, verifySignature } from '@ecampus-webhooks/core'
import { createSampleEvent } from '@ecampus-webhooks/core/testing'
import { SECRET, killLeftovers, outputOf, run, startRecorder, type Recorder } from './helpers.js'

const env = { ECAMPUS_WEBHOOK_SECRET: SECRET }
// Known when the cases table is built, created before the tests run.
const dir = join(tmpdir(), `ecampus-cli-${randomUUID()}`)
let recorder: Recorder

beforeAll(async () => {
  await mkdir(dir)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})
beforeEach(async () => {
  recorder = await startRecorder()
})
afterEach(async () => {
  await recorder.close()
  killLeftovers()
})

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, content)
  return path
}

/** The one request the recorder got, checked to be signed like eCampus signs. */
function delivered() {
  expect(recorder.requests).toHaveLength(1)
  const request = recorder.requests[0]!
  expect(request.method).toBe('POST')
  expect(request.headers['content-type']).toBe('application/json')
  expect(request.headers['content-length']).toBe(String(request.body.length))
  // On the wire the header is spelt as eCampus spells it.
  expect(request.rawHeaders).toContain('x-eCampus-signature')
  const signature = request.headers['x-ecampus-signature']
  expect(signature).toMatch(/^[0-9a-f]{64}$/)
  expect(verifySignature(request.body, signature, SECRET)).toBe(true)
  return request
}

describe('send', () => {
  it('posts a realistic sample, signed over the exact bytes', async () => {
    const result = await run(['send', 'message.created', '--url', recorder.url], { env })
    expect(result.code).toBe(0)
    const request = delivered()
    const event = parseEvent(request.body)
    expect(event.type).toBe('message.created')
    expect(event.id).toMatch(/^[A-Za-z0-9]{16}$/)
    expect(event.payload).toEqual(createSampleEvent('message.created').payload)
    expect(request.headers['user-agent']).toMatch(/^ecampus-webhooks-cli\/\d+\.\d+\.\d+/)
    expect(result.stdout).toContain(`message.created ${event.id}  (${request.body.length} bytes)`)
  })

  it('gives each run a fresh id, and uses --id when given', async () => {
    await run(['send', 'contact.updated', '--url', recorder.url], { env })
    await run(['send', 'contact.updated', '--url', recorder.url], { env })
    await run(['send', 'contact.updated', '--url', recorder.url, '--id', 'dup-1'], { env })
    const ids = recorder.requests.map((request) => parseEvent(request.body).id)
    expect(new Set(ids).size).toBe(3)
    expect(ids[2]).toBe('dup-1')
  })

  it('sends a full event from --data byte for byte', async () => {
    // Odd spacing, key order, an escape and a trailing newline: re-serialising would change them.
    const bytes =
      '{ "type": "message.updated",\n  "id": "evt-7", "payload": {"id":"m1","n":1.50,"s":"\\u00e9"} }\n'
    const path = await file('event.json', bytes)
    const result = await run(['send', 'message.updated', '--url', recorder.url, '--data', path], {
      env,
    })
    expect(result.code).toBe(0)
    expect(delivered().body.toString('utf8')).toBe(bytes)
    expect(result.stdout).toContain('message.updated evt-7')
  })

  it('wraps a bare payload from --data, keeping its bytes', async () => {
    // 2^64 would lose its digits through JSON.parse + JSON.stringify.
    const payload = '{"id":"c1", "username":"ada", "big": 18446744073709551616}'
    const path = await file('payload.json', `\n${payload}\n`)
    const result = await run(
      ['send', 'contact.created', '--url', recorder.url, '--data', path, '--id', 'evt-8'],
      { env },
    )
    expect(result.code).toBe(0)
    expect(delivered().body.toString('utf8')).toBe(
      `{"id":"evt-8","type":"contact.created","payload":${payload}}`,
    )
  })

  it('reads --data - from stdin', async () => {
    const bytes = '{"id":"evt-9","type":"group.deleted","payload":{"id":"g1"}}'
    const result = await run(['send', 'group.deleted', '--url', recorder.url, '--data', '-'], {
      env,
      input: bytes,
    })
    expect(result.code).toBe(0)
    expect(delivered().body.toString('utf8')).toBe(bytes)
  })

  it('drops a byte-order mark an editor put in front of the JSON', async () => {
    const bytes = '{"id":"evt-10","type":"group.created","payload":{"id":"g1"}}'
    const path = await file(
      'bom.json',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(bytes)]),
    )
    const result = await run(['send', 'group.created', '--url', recorder.url, '-d', path], { env })
    expect(result.code).toBe(0)
    expect(delivered().body.toString('utf8')).toBe(bytes)
  })

  it('prints the answer and exits 1 on a non-2xx status', async () => {
    recorder.reply.status = 500
    recorder.reply.body = '{"error":{"code":"HANDLER_FAILED","message":"boom"}}'
    const result = await run(['send', 'attachment.created', '--url', recorder.url], { env })
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/^< 500 Internal Server Error {2}\d+(\.\d)? ms$/m)
    expect(result.stdout).toContain('{"error":{"code":"HANDLER_FAILED","message":"boom"}}\n')
    expect(result.stderr).toBe(`error: ${recorder.url} answered 500, not 2xx\n`)
  })

  it('prints a response body with its lines, control characters escaped', async () => {
    recorder.reply.status = 502
    recorder.reply.body = '<h1>Bad gateway</h1>\r\n<p>\u001b[2Jproxy</p>\n'
    const result = await run(['send', 'attachment.created', '--url', recorder.url], { env })
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('<h1>Bad gateway</h1>\n<p>\\u001b[2Jproxy</p>\n')
    expect(result.stdout).not.toContain('\u001b')
  })

  it('accepts any 2xx, e.g. 202 from respond: on-verify', async () => {
    recorder.reply.status = 202
    const result = await run(['send', 'attachment.created', '--url', recorder.url], { env })
    expect(result.code).toBe(0)
  })

  it('gives up with exit code 3 when the receiver never answers', async () => {
    const silent = createServer(() => {}) // reads nothing, answers nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/webhooks`
    try {
      const result = await run(['send', 'message.created', '--url', url, '--timeout', '300'], {
        env,
      })
      expect(result.code).toBe(3)
      expect(result.stderr).toBe(
        `error: could not deliver to ${url}: no complete answer within 300 ms (raise it with --timeout)\n`,
      )
    } finally {
      silent.closeAllConnections()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  it('leaves credentials in --url out of its output', async () => {
    const url = recorder.url.replace('http://', 'http://user:pa55word@')
    const result = await run(['send', 'message.created', '--url', url], { env })
    expect(result.code).toBe(0)
    expect(outputOf(result)).not.toContain('pa55word')
  })
})

describe('send errors: one line on stderr, no stack, nothing sent', () => {
  const cases: {
    name: string
    args: (paths: Record<string, string>) => string[]
    env?: Record<string, string>
    input?: string
    /** Appends `--url <recorder>` unless false. */
    url?: false
    code: number
    stderr: string | RegExp
  }[] = [
    {
      name: 'an unknown event type lists the 15 known ones',
      args: () => ['send', 'mesage.created'],
      code: 2,
      stderr: `error: unknown event type "mesage.created"; known types: ${EVENT_TYPES.join(', ')}\n`,
    },
    {
      name: 'an unknown event type with a bare payload',
      args: ({ payload }) => ['send', 'poll.created', '--data', payload!],
      code: 2,
      stderr: /^error: unknown event type "poll\.created"; known types: contact\.created, /,
    },
    {
      name: 'no secret says how to pass one',
      args: () => ['send', 'message.created'],
      env: {},
      code: 2,
      stderr: 'error: no webhook secret: set ECAMPUS_WEBHOOK_SECRET or pass --secret <secret>\n',
    },
    {
      name: 'an empty secret',
      args: () => ['send', 'message.created'],
      env: { ECAMPUS_WEBHOOK_SECRET: '' },
      code: 2,
      stderr:
        'error: the webhook secret is empty: set ECAMPUS_WEBHOOK_SECRET to the secret from your eCampus settings\n',
    },
    {
      name: 'an unreadable --data file',
      args: () => ['send', 'message.created', '--data', join(dir, 'missing.json')],
      code: 2,
      stderr: `error: cannot read --data file ${JSON.stringify(join(dir, 'missing.json'))}: no such file\n`,
    },
    {
      name: 'a --data directory',
      args: () => ['send', 'message.created', '--data', dir],
      code: 2,
      stderr: `error: cannot read --data file ${JSON.stringify(dir)}: it is a directory\n`,
    },
    {
      name: 'invalid JSON in a file',
      args: ({ invalid }) => ['send', 'message.created', '--data', invalid!],
      code: 2,
      stderr: /^error: --data ".*invalid\.json" is not valid JSON: .+\n$/,
    },
    {
      name: 'invalid JSON on stdin',
      args: () => ['send', 'message.created', '--data', '-'],
      input: '{"id":',
      code: 2,
      stderr: /^error: --data from stdin is not valid JSON: .+\n$/,
    },
    {
      name: 'empty stdin',
      args: () => ['send', 'message.created', '--data', '-'],
      code: 2,
      stderr: 'error: --data from stdin is not valid JSON: it is empty\n',
    },
    {
      name: 'JSON that is not an object',
      args: () => ['send', 'message.created', '--data', '-'],
      input: '[1,2]',
      code: 2,
      stderr:
        'error: --data from stdin must hold a JSON object: a full event {"id","type","payload"} or a bare payload\n',
    },
    {
      name: 'a full event of another type',
      args: () => ['send', 'message.created', '--data', '-'],
      input: '{"id":"e1","type":"message.deleted","payload":{}}',
      code: 2,
      stderr:
        'error: --data from stdin holds a "message.deleted" event, not "message.created": pass the type it holds\n',
    },
    {
      name: 'a full event with --id',
      args: () => ['send', 'message.created', '--data', '-', '--id', 'x'],
      input: '{"id":"e1","type":"message.created","payload":{}}',
      code: 2,
      stderr:
        'error: --id cannot change the full event in --data from stdin: it is sent byte for byte; edit its "id" instead\n',
    },
    {
      name: 'an incomplete full event',
      args: () => ['send', 'message.created', '--data', '-'],
      input: '{"type":"message.created","payload":{}}',
      code: 2,
      stderr: /^error: --data from stdin has a "payload" field, so it is a full event, and needs/,
    },
    {
      name: 'a URL that is not one',
      args: () => ['send', 'message.created', '--url', 'localhost:3000/webhooks'],
      code: 2,
      stderr: 'error: --url must be http:// or https://, got localhost:\n',
    },
    {
      name: 'a URL that does not parse',
      args: () => ['send', 'message.created', '--url', 'http://'],
      code: 2,
      stderr: 'error: --url "http://" is not a URL; pass one like http://127.0.0.1:3000/webhooks\n',
    },
    {
      name: 'a missing --url',
      args: () => ['send', 'message.created'],
      url: false,
      code: 2,
      stderr: /^error: required option '-u, --url <url>' not specified\n/,
    },
    {
      name: 'an unknown option',
      args: () => ['send', 'message.created', '--bogus'],
      code: 2,
      stderr: /^error: unknown option '--bogus'\n/,
    },
  ]

  it.each(cases)('$name', async (test) => {
    const paths = {
      payload: await file('bare.json', '{"id":"p1"}'),
      invalid: await file('invalid.json', '{"id": "e1",\n'),
    }
    const args = test.args(paths)
    if (test.url !== false && !args.includes('--url')) args.push('--url', recorder.url)
    const result = await run(args, { env: test.env ?? env, input: test.input })
    expect(result.code).toBe(test.code)
    if (typeof test.stderr === 'string') expect(result.stderr).toBe(test.stderr)
    else expect(result.stderr).toMatch(test.stderr)
    expect(result.stderr).not.toMatch(/\n\s+at /)
    expect(outputOf(result)).not.toContain(SECRET)
    expect(recorder.requests).toHaveLength(0)
  })

  it('refuses an unreadable file (permission denied)', async () => {
    if (process.getuid?.() === 0) return // root reads any file
    const path = await file('locked.json', '{}')
    await chmod(path, 0o000)
    const result = await run(['send', 'message.created', '--url', recorder.url, '-d', path], {
      env,
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('permission denied')
  })
})
