import type { ChildProcess } from 'node:child_process'
import autocannon from 'autocannon'
import { forkTs } from './child.js'
import { HTTP_TARGETS, WEBHOOK_PATH } from './http-targets.js'
import type { FrameworkName, HttpTarget, Variant } from './http-targets.js'
import type { ParentMessage, ServerMessage } from './http-server.js'
import { buildBody } from './payload.js'
import type { BodySize, SizeLabel } from './payload.js'
import { ecampusHeaders, octokitHeaders } from './receivers.js'
import { median, percentile } from './stats.js'

/** How the HTTP section runs. */
export interface HttpOptions {
  sizes: readonly BodySize[]
  /** Measured runs per target, interleaved across targets. */
  rounds: number
  /** Seconds per measured run. */
  duration: number
  /** Seconds of unmeasured load per target before the first round. */
  warmup: number
  connections: number
  /** Target ids to run; all when absent. */
  only?: (id: string) => boolean
  log?: (line: string) => void
}

/** One target at one size. */
export interface HttpRow {
  framework: FrameworkName
  variant: Variant
  size: SizeLabel
  /** Medians over rounds. */
  rps: number
  p50: number
  p99: number
  /** Server CPU time (user + system) per answered request, microseconds; median over rounds. */
  cpuPerRequest: number
  perRoundRps: number[]
  /** Requests answered with another status than expected, and socket errors, over all rounds. */
  unexpected: number
  errors: number
  requests: number
  /** Events the server's handlers received (0 for the floor route). */
  events: number
  baselineRss: number
  peakRss: number
}

/** The HTTP results, with ratios taken within each round and the median reported. */
export interface HttpResult {
  rows: HttpRow[]
  ratios: HttpRatio[]
  options: Omit<HttpOptions, 'sizes' | 'only' | 'log'> & {
    sizes: SizeLabel[]
    pipelining: number
  }
}

/** Our adapter against the floor, the hand-written route and the octokit peer. */
export interface HttpRatio {
  framework: FrameworkName
  size: SizeLabel
  /** (c)/(a) req/s. */
  oursToFloor: number
  /** (c)/(b) req/s. */
  oursToHandWritten: number
  /** (c) p99 / (b) p99. */
  p99ToHandWritten: number
  /** (c) / (b) server CPU time per request. */
  cpuToHandWritten: number
  /** (c) req/s / octokit on node:http req/s. */
  oursToOctokit: number
}

interface Server {
  target: HttpTarget
  child: ChildProcess
  port: number
  baselineRss: number
}

const SERVER_FILE = new URL('./http-server.ts', import.meta.url)

function nextMessage(child: ChildProcess, type: ServerMessage['type']): Promise<ServerMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ServerMessage): void => {
      if (message.type !== type) return
      cleanup()
      resolve(message)
    }
    const onExit = (code: number | null): void => {
      cleanup()
      reject(new Error(`The server child exited (code ${code}) before sending "${type}".`))
    }
    const cleanup = (): void => {
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

async function startServer(target: HttpTarget): Promise<Server> {
  // A separate process from the load generator (this one): they must not share a CPU's time.
  const child = forkTs(SERVER_FILE, [target.id])
  const ready = await nextMessage(child, 'ready')
  if (ready.type !== 'ready') throw new Error('unreachable')
  return { target, child, port: ready.port, baselineRss: ready.baselineRss }
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.disconnect()
  await exited
}

async function ask(
  server: Server,
  message: ParentMessage,
  reply: ServerMessage['type'],
): Promise<ServerMessage> {
  const answer = nextMessage(server.child, reply)
  server.child.send(message)
  return answer
}

async function serverCpu(server: Server): Promise<number> {
  const cpu = await ask(server, { type: 'cpu' }, 'cpu')
  if (cpu.type !== 'cpu') throw new Error('unreachable')
  return cpu.micros
}

async function serverStats(server: Server): Promise<Extract<ServerMessage, { type: 'stats' }>> {
  const reply = nextMessage(server.child, 'stats')
  server.child.send({ type: 'stats' } satisfies ParentMessage)
  const stats = await reply
  if (stats.type !== 'stats') throw new Error('unreachable')
  return stats
}

interface Measured {
  rps: number
  p50: number
  p99: number
  cpuPerRequest: number
  unexpected: number
  errors: number
  requests: number
}

/** One run of `seconds` of load, with the server's CPU time per request over the run. */
async function load(
  server: Server,
  headers: Record<string, string>,
  body: Buffer,
  options: HttpOptions,
  seconds: number,
): Promise<Measured> {
  const before = await serverCpu(server)
  const measured = await generate(server, headers, body, options, seconds)
  const after = await serverCpu(server)
  return { ...measured, cpuPerRequest: (after - before) / Math.max(1, measured.requests) }
}

function generate(
  server: Server,
  headers: Record<string, string>,
  body: Buffer,
  options: HttpOptions,
  seconds: number,
): Promise<Omit<Measured, 'cpuPerRequest'>> {
  return new Promise((resolve, reject) => {
    // Latencies are kept exactly (float milliseconds from autocannon's own hrtime per
    // response): its histogram rounds to whole milliseconds, too coarse for a 10% p99 target.
    const latencies: number[] = []
    let unexpected = 0
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${server.port}${WEBHOOK_PATH}`,
        method: 'POST',
        headers,
        body,
        connections: options.connections,
        pipelining: 1,
        duration: seconds,
      },
      (error: unknown, result) => {
        if (error !== null && error !== undefined) {
          reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }))
          return
        }
        const elapsed = (result.finish.getTime() - result.start.getTime()) / 1000
        resolve({
          rps: latencies.length / elapsed,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          unexpected,
          errors: result.errors,
          requests: latencies.length,
        })
      },
    )
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      latencies.push(responseTime)
      if (statusCode !== server.target.expectedStatus) unexpected += 1
    })
  })
}

/**
 * Measures every target at every size. All servers of a size start at once (each its own child
 * process); each gets a warmup, then `rounds` measured runs, visiting the targets in a rotated
 * order each round so a drift of the shared machine hits all of them alike.
 */
export async function runHttp(options: HttpOptions): Promise<HttpResult> {
  const log = options.log ?? (() => undefined)
  const targets = HTTP_TARGETS.filter((target) => options.only?.(target.id) ?? true)
  const rows: HttpRow[] = []
  const ratios: HttpRatio[] = []

  for (const size of options.sizes) {
    const body = buildBody(size.bytes)
    const headers = withoutLength(ecampusHeaders(body))
    const octokit = withoutLength(await octokitHeaders(body))
    const headersFor = (target: HttpTarget): Record<string, string> =>
      target.variant === 'octokit' ? octokit : headers

    const servers = await Promise.all(targets.map(startServer))
    try {
      const measured = new Map<string, Measured[]>(targets.map((target) => [target.id, []]))
      for (const server of servers) {
        await check(server, headersFor(server.target), body)
        if (options.warmup > 0)
          await load(server, headersFor(server.target), body, options, options.warmup)
      }
      for (let round = 0; round < options.rounds; round += 1) {
        const shift = (round * 5) % servers.length
        let order = [...servers.slice(shift), ...servers.slice(0, shift)]
        if (round % 2 === 1) order = order.reverse()
        for (const server of order) {
          const result = await load(
            server,
            headersFor(server.target),
            body,
            options,
            options.duration,
          )
          measured.get(server.target.id)!.push(result)
          log(
            `  http ${size.label} round ${round + 1}/${options.rounds} ${server.target.id}: ` +
              `${Math.round(result.rps)} req/s, p99 ${result.p99.toFixed(2)} ms, ` +
              `server CPU ${result.cpuPerRequest.toFixed(1)} us/req`,
          )
        }
      }

      for (const server of servers) {
        const runs = measured.get(server.target.id)!
        const stats = await serverStats(server)
        rows.push({
          framework: server.target.framework,
          variant: server.target.variant,
          size: size.label,
          rps: median(runs.map((run) => run.rps)),
          p50: median(runs.map((run) => run.p50)),
          p99: median(runs.map((run) => run.p99)),
          cpuPerRequest: median(runs.map((run) => run.cpuPerRequest)),
          perRoundRps: runs.map((run) => run.rps),
          unexpected: sum(runs.map((run) => run.unexpected)),
          errors: sum(runs.map((run) => run.errors)),
          requests: sum(runs.map((run) => run.requests)),
          events: stats.events,
          baselineRss: stats.baselineRss,
          peakRss: stats.peakRss,
        })
      }
      ratios.push(...ratiosFor(size.label, measured))
    } finally {
      await Promise.all(servers.map(stopServer))
    }
  }
  return {
    rows,
    ratios,
    options: {
      rounds: options.rounds,
      duration: options.duration,
      warmup: options.warmup,
      connections: options.connections,
      pipelining: 1,
      sizes: options.sizes.map((size) => size.label),
    },
  }
}

/** One request before any load: a target that answers wrongly would measure its error path. */
async function check(server: Server, headers: Record<string, string>, body: Buffer): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${server.port}${WEBHOOK_PATH}`, {
    method: 'POST',
    headers,
    body,
  })
  const text = await response.text()
  if (response.status !== server.target.expectedStatus) {
    throw new Error(
      `${server.target.id} answered a valid delivery with ${response.status}: ${text.slice(0, 200)}`,
    )
  }
}

function ratiosFor(size: SizeLabel, measured: Map<string, Measured[]>): HttpRatio[] {
  const octokit = measured.get('node:http/octokit')
  const ratios: HttpRatio[] = []
  for (const framework of new Set(HTTP_TARGETS.map((target) => target.framework))) {
    const floor = measured.get(`${framework}/floor`)
    const hand = measured.get(`${framework}/hand-written`)
    const ours = measured.get(`${framework}/ours`)
    if (floor === undefined || hand === undefined || ours === undefined) continue
    const perRound = (other: Measured[] | undefined, pick: (run: Measured) => number): number =>
      other === undefined || other.length === 0
        ? Number.NaN
        : median(ours.map((run, i) => pick(run) / pick(other[i]!)))
    ratios.push({
      framework,
      size,
      oursToFloor: perRound(floor, (run) => run.rps),
      oursToHandWritten: perRound(hand, (run) => run.rps),
      p99ToHandWritten: perRound(hand, (run) => run.p99),
      cpuToHandWritten: perRound(hand, (run) => run.cpuPerRequest),
      oursToOctokit: perRound(octokit, (run) => run.rps),
    })
  }
  return ratios
}

/** What `profileHttp` measured: the server's CPU per request while it ran under the profiler. */
export interface ProfiledLoad {
  requests: number
  cpuPerRequest: number
}

/**
 * Starts one target, warms it up, and profiles it (V8's CPU profiler, started and stopped inside
 * the server) for `seconds` of load at `bytes`; the profile is written to `file`.
 */
export async function profileUnderLoad(
  id: string,
  bytes: number,
  seconds: number,
  file: string,
  connections = 32,
): Promise<ProfiledLoad> {
  const target = HTTP_TARGETS.find((candidate) => candidate.id === id)
  if (target === undefined) throw new Error(`Unknown HTTP target ${JSON.stringify(id)}`)
  const body = buildBody(bytes)
  const headers = withoutLength(
    target.variant === 'octokit' ? await octokitHeaders(body) : ecampusHeaders(body),
  )
  const server = await startServer(target)
  try {
    await check(server, headers, body)
    const options = { sizes: [], rounds: 1, duration: seconds, warmup: 0, connections }
    await load(server, headers, body, options, 1)
    await ask(server, { type: 'profile-start' }, 'profiled')
    const result = await load(server, headers, body, options, seconds)
    await ask(server, { type: 'profile-stop', file }, 'profiled')
    if (result.unexpected + result.errors > 0) {
      throw new Error(`${id} gave ${result.unexpected + result.errors} bad answers under load.`)
    }
    return { requests: result.requests, cpuPerRequest: result.cpuPerRequest }
  } finally {
    await stopServer(server)
  }
}

function withoutLength(headers: Record<string, string>): Record<string, string> {
  // autocannon sets Content-Length from the body itself.
  const rest = { ...headers }
  delete rest['content-length']
  return rest
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0)
}
