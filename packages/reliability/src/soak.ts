import { fork, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import type { DriverMessage, ServerMessage, ServerStats } from './soak-server.js'
import { MIX, TrafficPlan, type PlannedRequest, type TrafficKind } from './soak-traffic.js'

// `pnpm soak`: drives each adapter, in its own child process with idempotency on, with autocannon
// for a set time and a mixed load, then redelivers every valid event that was not acknowledged
// (as eCampus would) and checks the promises of issue 4 against the server's own record:
//   - no handler call for a request that did not verify (or was over the limit, or malformed),
//   - every valid event handled exactly once: none lost, none doubled,
//   - every request answered with a status that keeps the contract, no hang, no crash,
//   - the server's RSS stays under a bound.
// Exits 1 when any promise is broken. Loopback only; bounded in time.

const USAGE = `Usage: pnpm soak [--duration <s>] [--quick] [--adapter <name>]... [--connections <n>]
                 [--rss-limit <MiB>] [--seed <n>]
  --duration     seconds of load per adapter (default 20, or SOAK_DURATION)
  --quick        5 seconds per adapter
  --adapter      express | koa | fastify (repeatable; default all three)
  --connections  concurrent connections (default 32, or SOAK_CONNECTIONS)
  --rss-limit    largest allowed RSS growth over the start, in MiB (default 192)
  --seed         seed of the traffic mix (default 1)`

const ADAPTERS: Readonly<Record<string, string>> = {
  express: 'Express 5',
  koa: 'Koa 3',
  fastify: 'Fastify 5',
}

const MIB = 1024 * 1024
/** How long the driver waits for the server to start, answer, or stop: a hang guard only. */
const STEP_LIMIT_MS = 30_000
/** Redelivery attempts per unacknowledged event (a 409 or a 500 asks to try again). */
const REDELIVERY_ATTEMPTS = 50

interface Options {
  duration: number
  connections: number
  rssLimit: number
  seed: number
  adapters: string[]
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      quick: { type: 'boolean', default: false },
      adapter: { type: 'string', multiple: true },
      connections: { type: 'string' },
      'rss-limit': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const number = (value: string | undefined, fallback: number, what: string): number => {
    if (value === undefined) return fallback
    const parsed = Number(value)
    if (!Number.isFinite(parsed) || parsed <= 0) {
      console.error(`soak: ${what} must be a positive number, got ${value}\n${USAGE}`)
      process.exit(2)
    }
    return parsed
  }
  const adapters = values.adapter ?? Object.keys(ADAPTERS)
  for (const adapter of adapters) {
    if (!(adapter in ADAPTERS)) {
      console.error(`soak: unknown adapter ${adapter}\n${USAGE}`)
      process.exit(2)
    }
  }
  return {
    duration: values.quick
      ? 5
      : number(values.duration ?? process.env.SOAK_DURATION, 20, '--duration'),
    connections: Math.round(
      number(values.connections ?? process.env.SOAK_CONNECTIONS, 32, '--connections'),
    ),
    rssLimit: number(values['rss-limit'], 192, '--rss-limit') * MIB,
    seed: Math.round(number(values.seed, 1, '--seed')),
    adapters,
  }
}

/** Rejects with `what` when `promise` has not settled in time: a hang becomes a failure. */
function within<T>(promise: Promise<T>, what: string, ms = STEP_LIMIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`soak: gave up waiting for ${what}`)), ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

function nextMessage<T extends ServerMessage['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<ServerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ServerMessage): void => {
      if (message.type !== type) return
      cleanup()
      resolve(message as Extract<ServerMessage, { type: T }>)
    }
    const onExit = (code: number | null): void => {
      cleanup()
      reject(new Error(`soak: the server process exited (code ${code}) before sending ${type}`))
    }
    const cleanup = (): void => {
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

interface KindTally {
  sent: number
  statuses: Map<number, number>
  /** Answers outside the statuses that keep the contract for this kind, by variant. */
  unexpected: Map<string, number>
}

interface Outcome {
  adapter: string
  broken: string[]
  lines: string[]
}

async function soakAdapter(adapter: string, options: Options, run: number): Promise<Outcome> {
  const name = ADAPTERS[adapter]!
  const child = fork(new URL('./soak-server.ts', import.meta.url), [name], {
    execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  try {
    const ready = await within(nextMessage(child, 'ready'), `${name} to start`)
    const url = new URL(ready.url)
    const plan = new TrafficPlan(`r${run}`, options.seed + run)
    const tally = new Map<TrafficKind, KindTally>(
      (Object.keys(MIX) as TrafficKind[]).map((kind) => [
        kind,
        { sent: 0, statuses: new Map(), unexpected: new Map() },
      ]),
    )
    /** Deliverable ids the server acknowledged with 200. */
    const acked = new Set<string>()

    const result = await autocannon({
      url: ready.url,
      connections: options.connections,
      duration: options.duration,
      // Sequential per connection, so a response belongs to the connection's last request.
      pipelining: 1,
      timeout: 10,
      requests: [
        {
          setupRequest: (request, context: { current?: PlannedRequest }) => {
            const planned = plan.next()
            context.current = planned
            tally.get(planned.kind)!.sent += 1
            return {
              ...request,
              method: planned.method as 'POST',
              path: '/webhooks',
              headers: planned.headers,
              body: planned.body,
            }
          },
          onResponse: (status, body, context: { current?: PlannedRequest }) => {
            const planned = context.current
            if (planned === undefined) return
            const kind = tally.get(planned.kind)!
            kind.statuses.set(status, (kind.statuses.get(status) ?? 0) + 1)
            if (!planned.expected.includes(status)) {
              const key = `${planned.variant} -> ${status} ${body.slice(0, 120)}`
              kind.unexpected.set(key, (kind.unexpected.get(key) ?? 0) + 1)
            }
            if (status === 200 && plan.deliverable.has(planned.id)) acked.add(planned.id)
          },
        },
      ],
    })

    // eCampus retries every delivery it has no 2xx for; so does the soak, once the load is over.
    const unacked = [...plan.deliverable.keys()].filter((id) => !acked.has(id))
    const redelivery = await redeliver(url, plan, unacked, acked)

    child.send({ type: 'stats' } satisfies DriverMessage)
    const { stats } = await within(nextMessage(child, 'stats'), `${name}'s record`)
    return evaluate(name, options, result, tally, plan, acked, redelivery, stats)
  } finally {
    if (child.exitCode === null) {
      child.send({ type: 'stop' } satisfies DriverMessage)
      const code = await within(exited, `${name} to stop`).catch(() => {
        child.kill('SIGKILL')
        return null
      })
      if (code !== 0) console.error(`soak: ${name}'s process exited with code ${code}`)
    }
  }
}

interface Redelivery {
  attempted: number
  statuses: Map<number, number>
  stillUnacked: string[]
}

async function redeliver(
  url: URL,
  plan: TrafficPlan,
  ids: readonly string[],
  acked: Set<string>,
): Promise<Redelivery> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  const statuses = new Map<number, number>()
  const queue = [...ids]
  const worker = async (): Promise<void> => {
    for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
      const event = plan.deliverable.get(id)!
      for (let attempt = 0; attempt < REDELIVERY_ATTEMPTS; attempt += 1) {
        const status = await post(url, agent, event.body, event.signature)
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        if (status === 200) {
          acked.add(id)
          break
        }
        // 409: another delivery still runs it; 500: it failed and was released. Try again soon.
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
  }
  try {
    await within(
      Promise.all(Array.from({ length: 16 }, worker)),
      'the redelivery pass',
      STEP_LIMIT_MS * 4,
    )
  } finally {
    agent.destroy()
  }
  return { attempted: ids.length, statuses, stillUnacked: ids.filter((id) => !acked.has(id)) }
}

function post(url: URL, agent: http.Agent, body: string, signature: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.request(
      new URL('/webhooks', url),
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'x-ecampus-signature': signature },
      },
      (response) => {
        response.resume()
        response.on('end', () => resolve(response.statusCode ?? 0))
        response.on('error', () => resolve(0))
      },
    )
    request.on('error', () => resolve(0))
    request.end(body)
  })
}

function evaluate(
  name: string,
  options: Options,
  result: autocannon.Result,
  tally: Map<TrafficKind, KindTally>,
  plan: TrafficPlan,
  acked: Set<string>,
  redelivery: Redelivery,
  stats: ServerStats,
): Outcome {
  const broken: string[] = []
  const lines: string[] = []
  const attempts = new Map(stats.attempts)
  const effects = new Map(stats.effects)

  const unverifiedCalls = [...attempts.keys()].filter((id) => !plan.deliverable.has(id))
  const doubled = [...effects].filter(([, times]) => times > 1).map(([id]) => id)
  const lost = [...plan.deliverable.keys()].filter((id) => acked.has(id) && !effects.has(id))
  const unexpected = [...tally.values()].reduce(
    (sum, kind) => sum + [...kind.unexpected.values()].reduce((a, b) => a + b, 0),
    0,
  )
  const growth = stats.rss.peak - stats.rss.start

  const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`
  const statusText = (statuses: Map<number, number>): string =>
    [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([status, times]) => `${status === 0 ? 'no response' : status} x${times}`)
      .join(', ') || '-'

  lines.push(`== ${name} (${options.duration} s, ${options.connections} connections) ==`)
  lines.push(
    `requests served: ${result.requests.total} (${Math.round(result.requests.average)}/s average), ` +
      `2xx ${result['2xx']}, 4xx ${result['4xx']}, 5xx ${result['5xx']}, ` +
      `errors ${result.errors}, timeouts ${result.timeouts}`,
  )
  lines.push('status counts by kind (sent -> answers):')
  for (const [kind, t] of tally) {
    const answered = [...t.statuses.values()].reduce((a, b) => a + b, 0)
    const unanswered = t.sent - answered
    lines.push(
      `  ${kind.padEnd(10)} sent ${String(t.sent).padStart(7)} -> ${statusText(t.statuses)}` +
        (unanswered > 0 ? `, unanswered ${unanswered}` : ''),
    )
    for (const [what, times] of t.unexpected) lines.push(`    UNEXPECTED x${times}: ${what}`)
  }
  if (
    [...tally.values()].some((t) => t.sent > [...t.statuses.values()].reduce((a, b) => a + b, 0))
  ) {
    lines.push(
      '  (unanswered: autocannon writes its next request before it sees the server close the',
      '   connection after a 413 with Connection: close; those requests never reached a handler,',
      '   and the valid ones among them are redelivered below)',
    )
  }
  lines.push(
    `redelivery of unacknowledged valid events: ${redelivery.attempted} ids -> ${statusText(redelivery.statuses)}`,
  )
  const distinct = plan.deliverable.size
  const handled = [...effects.values()].reduce((a, b) => a + b, 0)
  const calls = [...attempts.values()].reduce((a, b) => a + b, 0)
  lines.push(
    `handler: ${calls} calls (${calls - handled} failed on purpose), ${handled} completed; ` +
      `expected exactly the ${distinct} distinct valid ids once each`,
  )
  lines.push(
    `  handler calls on unverified/oversize/malformed input: ${unverifiedCalls.length}; ` +
      `lost: ${lost.length + redelivery.stillUnacked.length}; doubled: ${doubled.length}`,
  )
  lines.push(
    `server rejections by code (onRejected): ${JSON.stringify(stats.rejected)}; ` +
      `onError: ${JSON.stringify(stats.failures)}`,
  )
  lines.push(
    `server RSS: start ${mib(stats.rss.start)}, peak ${mib(stats.rss.peak)}, end ${mib(stats.rss.end)} ` +
      `(growth ${mib(growth)}, bound ${mib(options.rssLimit)})`,
  )
  lines.push(
    `server heap retained after a full GC at the end: ${mib(stats.retainedHeap)} ` +
      `(idempotency store + this harness's per-id records for ${attempts.size} ids)`,
  )
  lines.push(`server crashes (unhandled rejections, uncaught exceptions): ${stats.crashes.length}`)

  if (unverifiedCalls.length > 0) {
    broken.push(
      `handlers ran for input that must be refused: ${unverifiedCalls.slice(0, 5).join(', ')}`,
    )
  }
  if (doubled.length > 0) broken.push(`events handled twice: ${doubled.slice(0, 5).join(', ')}`)
  if (lost.length > 0)
    broken.push(`acknowledged events never handled: ${lost.slice(0, 5).join(', ')}`)
  if (redelivery.stillUnacked.length > 0) {
    broken.push(
      `valid events never acknowledged after ${REDELIVERY_ATTEMPTS} redeliveries: ${redelivery.stillUnacked.slice(0, 5).join(', ')}`,
    )
  }
  if (handled !== distinct && doubled.length === 0 && lost.length === 0) {
    broken.push(`completed handler runs ${handled} != distinct valid ids ${distinct}`)
  }
  if (unexpected > 0) broken.push(`${unexpected} answers outside the contract (see UNEXPECTED)`)
  if (result.timeouts > 0) broken.push(`${result.timeouts} requests got no answer within 10 s`)
  if (growth > options.rssLimit)
    broken.push(`RSS grew by ${mib(growth)} > ${mib(options.rssLimit)}`)
  if (stats.crashes.length > 0)
    broken.push(`server crashes: ${stats.crashes.slice(0, 3).join('; ')}`)
  if (result.requests.total === 0) broken.push('no request was served')
  return { adapter: name, broken, lines }
}

const chosen = options()
console.log(
  `soak: ${chosen.adapters.map((a) => ADAPTERS[a]).join(', ')}; ${chosen.duration} s each, ` +
    `${chosen.connections} connections, seed ${chosen.seed}, Node ${process.version}, loopback only`,
)
console.log(`mix (%): ${JSON.stringify(MIX)}`)
const outcomes: Outcome[] = []
for (const [index, adapter] of chosen.adapters.entries()) {
  try {
    const outcome = await soakAdapter(adapter, chosen, index + 1)
    outcomes.push(outcome)
  } catch (error) {
    outcomes.push({
      adapter: ADAPTERS[adapter]!,
      broken: [`the run failed: ${error instanceof Error ? error.message : String(error)}`],
      lines: [`== ${ADAPTERS[adapter]} ==`],
    })
  }
  const outcome = outcomes.at(-1)!
  console.log(`\n${outcome.lines.join('\n')}`)
  console.log(
    outcome.broken.length === 0
      ? 'PROMISES KEPT'
      : `PROMISES BROKEN:\n${outcome.broken.map((line) => `  - ${line}`).join('\n')}`,
  )
}
const failed = outcomes.filter((outcome) => outcome.broken.length > 0)
console.log(
  failed.length === 0
    ? '\nsoak: every promise kept on every adapter'
    : `\nsoak: promises broken on ${failed.map((outcome) => outcome.adapter).join(', ')}`,
)
process.exitCode = failed.length === 0 ? 0 : 1
