import { request } from 'node:http'
import { pathToFileURL } from 'node:url'
import {
  createSampleEvent,
  createSampleEvents,
  createSignedRequest,
} from '@ecampus-webhooks/core/testing'
import { start as startExpress } from 'example-express'
import { start as startKoa } from 'example-koa'
import { start as startFastify } from 'example-fastify'

const SECRET = 'demo-secret-do-not-use-in-production'
const FRAMEWORKS = [
  ['Express', startExpress],
  ['Koa', startKoa],
  ['Fastify', startFastify],
]

/** The cases sent to every app, each with what DESIGN.md says must happen. */
function cases() {
  const list = createSampleEvents().map((event) => ({
    name: event.type,
    request: createSignedRequest(event, SECRET),
    id: event.id,
    expect: { status: 200, handled: true },
  }))
  const tampered = createSignedRequest(createSampleEvent('message.created'), SECRET)
  list.push({
    name: 'tampered body',
    request: { ...tampered, body: tampered.body.replace('Hi!', 'Hi?') },
    expect: { status: 401, handled: false },
  })
  const unknown = { id: 'u1Xk9Zq2Lm3Np4Rs', type: 'poll.created', payload: { id: 'p1' } }
  list.push({
    name: 'unknown type',
    request: createSignedRequest(unknown, SECRET),
    id: unknown.id,
    expect: { status: 200, handled: true },
  })
  const big = createSampleEvent('message.created', {
    payload: { message: 'x'.repeat(1024 * 1024) },
  })
  list.push({
    name: 'oversize (1 MiB+)',
    request: createSignedRequest(big, SECRET),
    id: big.id,
    expect: { status: 413, handled: false },
  })
  return list
}

/** POSTs with node:http; resolves with the status even when the server answers before the body. */
function post(url, { body, headers }) {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
    })
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    // An early 413 closes the connection while the body is still being written.
    req.on('error', (error) => (req.res ? undefined : reject(error)))
    req.end(body)
  })
}

/**
 * Starts the three example apps on ephemeral loopback ports, sends every case to each and returns
 * the results table.
 */
export async function runDemo() {
  const list = cases()
  const rows = []
  for (const [framework, start] of FRAMEWORKS) {
    const server = await start({ secret: SECRET, log: () => undefined })
    const handled = new Set()
    server.webhooks.onAny((event) => {
      handled.add(event.id)
    })
    try {
      for (const item of list) {
        const status = await post(`${server.url}/webhooks`, item.request)
        const ran = item.id !== undefined && handled.has(item.id)
        const ok = status === item.expect.status && ran === item.expect.handled
        rows.push({ framework, name: item.name, status, ran, ok, expect: item.expect })
      }
    } finally {
      await server.close()
    }
  }
  return { rows, ok: rows.every((row) => row.ok) }
}

function printTable({ rows }) {
  const frameworks = [...new Set(rows.map((row) => row.framework))]
  const names = [...new Set(rows.map((row) => row.name))]
  const cell = (row) => `${row.status} ${row.ran ? 'ran' : '-'}${row.ok ? '' : ' ✗'}`
  const width = Math.max(...names.map((name) => name.length), 'case'.length)
  const line = (cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(width) : c.padEnd(12))).join(' | ')
  console.log(line(['case', ...frameworks, 'expected']))
  console.log(line(['-'.repeat(width), ...frameworks.map(() => '-'.repeat(12)), '-'.repeat(12)]))
  for (const name of names) {
    const cells = frameworks.map((f) =>
      cell(rows.find((r) => r.framework === f && r.name === name)),
    )
    const { expect } = rows.find((r) => r.name === name)
    console.log(line([name, ...cells, `${expect.status} ${expect.handled ? 'ran' : '-'}`]))
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await runDemo()
  console.log('\neCampus webhooks demo: each app got every case; "ran" = a handler received it.\n')
  printTable(result)
  const failed = result.rows.filter((row) => !row.ok)
  if (failed.length > 0) {
    console.error(`\n${failed.length} result(s) differ from DESIGN.md (marked ✗).`)
    process.exit(1)
  }
  console.log(`\nAll ${result.rows.length} results match DESIGN.md.`)
}
