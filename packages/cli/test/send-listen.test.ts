import { afterEach, describe, expect, it } from 'vitest'
import { EVENT_TYPES } from '@ecampus-webhooks/core'
import {
  SECRET,
  closedPort,
  killLeftovers,
  outputOf,
  run,
  startListen,
  type Listener,
} from './helpers.js'

const env = { ECAMPUS_WEBHOOK_SECRET: SECRET }
let listener: Listener | undefined

afterEach(async () => {
  await listener?.stop('SIGKILL')
  listener = undefined
  killLeftovers()
})

describe('send against listen', () => {
  it('delivers a signed sample that listen verifies and prints (issue 6, done when)', async () => {
    listener = await startListen(['--port', '0'])
    expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/webhooks$/)

    const sent = await run(
      ['send', 'message.created', '--url', listener.url, '--id', 'evt-e2e-1'],
      {
        env,
      },
    )
    expect(sent.stderr).toBe('')
    expect(sent.code).toBe(0)
    expect(sent.stdout).toContain(`> POST ${listener.url}  message.created evt-e2e-1`)
    expect(sent.stdout).toMatch(/^< 200 OK {2}\d+(\.\d)? ms$/m)
    expect(sent.stdout).toContain('{"ok":true}')

    await listener.waitFor('evt-e2e-1')
    const printed = listener.stdout()
    expect(printed).toMatch(/\d\d:\d\d:\d\d {2}message\.created {2}evt-e2e-1\n/)
    // The compact payload view: one line per field, nested values inline.
    expect(printed).toMatch(/^ {4}id: +'m7Rt2VbX9kQe4LsA'$/m)
    expect(printed).toMatch(/^ {4}contact: +\{ id: 'c9Q2kLm4Xa81TzPw', username: 'ada\.lovelace'/m)
    expect(printed).toMatch(/^ {4}message: +'Hi! Is the lecture/m)
    expect(outputOf(sent, { stdout: printed, stderr: listener.stderr() })).not.toContain(SECRET)
  })

  it('sends every one of the 15 types with a body listen accepts', async () => {
    listener = await startListen(['--port', '0'])
    for (const type of EVENT_TYPES) {
      const sent = await run(['send', type, '--url', listener.url], { env })
      expect({ type, code: sent.code, stderr: sent.stderr }).toEqual({ type, code: 0, stderr: '' })
    }
    await listener.waitFor('attachment.deleted')
    for (const type of EVENT_TYPES) expect(listener.stdout()).toContain(`  ${type}  `)
  })

  it('exits 1 on a 401 when the secrets differ, and listen prints the rejection', async () => {
    listener = await startListen(['--port', '0'])
    const wrong = 'not-the-secret-at-all'
    const sent = await run(['send', 'contact.created', '--url', listener.url], {
      env: { ECAMPUS_WEBHOOK_SECRET: wrong },
    })
    expect(sent.code).toBe(1)
    expect(sent.stdout).toMatch(/^< 401 Unauthorized/m)
    expect(sent.stdout).toContain('"code":"SIGNATURE_INVALID"')
    expect(sent.stderr).toBe(`error: ${listener.url} answered 401, not 2xx\n`)

    await listener.waitFor('SIGNATURE_INVALID')
    expect(listener.stdout()).toMatch(/\d\d:\d\d:\d\d {2}401 SIGNATURE_INVALID {2}POST {2}/)
    expect(listener.stdout()).not.toContain('contact.created')
    const all = outputOf(sent, { stdout: listener.stdout(), stderr: listener.stderr() })
    expect(all).not.toContain(SECRET)
    expect(all).not.toContain(wrong)
  })

  it('acknowledges a full event of a type eCampus has not documented yet', async () => {
    listener = await startListen(['--port', '0'])
    const event = '{"id":"poll-1","type":"poll.created","payload":{"question":"Room B12?"}}'
    const sent = await run(['send', 'poll.created', '--url', listener.url, '--data', '-'], {
      env,
      input: event,
    })
    expect(sent.code).toBe(0)
    await listener.waitFor('poll-1')
    expect(listener.stdout()).toMatch(/poll\.created {2}poll-1\n {4}question: 'Room B12\?'/)
  })

  it('prints unprintable characters of a payload as escapes', async () => {
    listener = await startListen(['--port', '0'])
    const event = JSON.stringify({
      id: 'esc-1',
      type: 'poll.created\u001b[2J',
      payload: { 'k\u001b]0;x': '\u001b[31mred' },
    })
    const sent = await run(['send', 'poll.created\u001b[2J', '--url', listener.url, '-d', '-'], {
      env,
      input: event,
    })
    expect(sent.code).toBe(0)
    await listener.waitFor('esc-1')
    expect(listener.stdout()).not.toContain('\u001b')
    expect(listener.stdout()).toContain('poll.created\\u001b[2J  esc-1')
  })

  it('answers other paths 404 and says which path it listens on', async () => {
    listener = await startListen(['--port', '0', '--path', '/hooks/ecampus'])
    expect(listener.url).toMatch(/\/hooks\/ecampus$/)
    const other = listener.url.replace('/hooks/ecampus', '/webhooks')
    const sent = await run(['send', 'group.created', '--url', other], { env })
    expect(sent.code).toBe(1)
    expect(sent.stdout).toMatch(/^< 404 Not Found/m)
    await listener.waitFor('404 POST /webhooks')
    expect(listener.stdout()).toContain('(not the webhook path /hooks/ecampus)')

    const right = await run(['send', 'group.created', '--url', listener.url], { env })
    expect(right.code).toBe(0)
  })

  it('answers per DESIGN.md: 405 with Allow for GET, printed as a rejection', async () => {
    listener = await startListen(['--port', '0'])
    const response = await fetch(listener.url)
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('POST')
    expect(await response.json()).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } })
    await listener.waitFor('405 METHOD_NOT_ALLOWED  GET')
  })
})

describe('listen', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'stops gracefully on %s with exit code 0',
    async (signal) => {
      listener = await startListen(['--port', '0'])
      const { url } = listener
      const stopped = await listener.stop(signal)
      listener = undefined
      expect(stopped.code).toBe(0)
      expect(stopped.stdout).toContain(`${signal}: stopping…\nStopped.\n`)
      expect(stopped.stderr).toBe('')
      // The port is really closed.
      await expect(fetch(url)).rejects.toThrow()
    },
  )

  it('exits 3 with one line when the port is taken', async () => {
    listener = await startListen(['--port', '0'])
    const port = new URL(listener.url).port
    const second = await run(['listen', '--port', port], { env })
    expect(second.code).toBe(3)
    expect(second.stderr).toBe(
      `error: cannot listen: 127.0.0.1 port ${port} is already in use; pick another with --port (0 picks a free one)\n`,
    )
  })

  it('exits 2 without a secret, saying how to pass one', async () => {
    const result = await run(['listen', '--port', '0'])
    expect(result.code).toBe(2)
    expect(result.stderr).toBe(
      'error: no webhook secret: set ECAMPUS_WEBHOOK_SECRET or pass --secret <secret>\n',
    )
  })

  it('takes the secret from --secret too, and never prints it', async () => {
    listener = await startListen(['--port', '0', '--secret', SECRET], {})
    const sent = await run(['send', 'message.deleted', '--url', listener.url, '--secret', SECRET])
    expect(sent.code).toBe(0)
    await listener.waitFor('message.deleted')
    expect(outputOf(sent, { stdout: listener.stdout(), stderr: listener.stderr() })).not.toContain(
      SECRET,
    )
  })

  it('refuses a bad --port and --path with exit code 2', async () => {
    const port = await run(['listen', '--port', '70000'], { env })
    expect(port.code).toBe(2)
    expect(port.stderr).toContain("option '-p, --port <port>' argument '70000' is invalid")
    const path = await run(['listen', '--port', '0', '--path', 'hooks'], { env })
    expect(path.code).toBe(2)
    expect(path.stderr).toBe('error: --path must start with "/", got "hooks"\n')
  })
})

describe('send failures', () => {
  it('exits 3 with one line when the connection is refused', async () => {
    const port = await closedPort()
    const url = `http://127.0.0.1:${port}/webhooks`
    const result = await run(['send', 'message.created', '--url', url], { env })
    expect(result.code).toBe(3)
    expect(result.stderr).toBe(
      `error: could not deliver to ${url}: connection refused by 127.0.0.1 port ${port}: is the receiver running?\n`,
    )
  })
})
