import type { HttpResult, HttpRow } from './http.js'
import { FLOOR_PARTS, FLOOR_ROW, OURS_ROW } from './in-process.js'
import type { InProcessResult, RowResult } from './in-process.js'
import type { MachineInfo } from './machine.js'
import type { MemoryResult } from './memory.js'
import type { ProfileResult } from './profile.js'
import { queueModeSection } from './queue-mode.js'
import type { QueueModeResult } from './queue-mode.js'
import { OWNERS } from './http-profile.js'
import type { HttpProfileResult, Owner } from './http-profile.js'
import { formatMiB, formatNumber, formatRatio } from './stats.js'

/** Everything one `pnpm bench` run measured. */
export interface BenchResults {
  quick: boolean
  command: string
  date: string
  seconds: number
  loadBefore: string
  loadAfter: string
  note?: string
  machine: MachineInfo
  inProcess?: InProcessResult
  http?: HttpResult
  memory?: MemoryResult
  profiles?: ProfileResult[]
  httpProfiles?: HttpProfileResult[]
  queue?: QueueModeResult
}

/** One target of the issue, evaluated. */
export interface TargetCheck {
  target: string
  measured: string
  met: boolean | undefined
}

const HANDLE_ROW = 'ours: handle() (pre-read body)'

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

function percent(ratio: number): string {
  const value = (ratio - 1) * 100
  return `${value >= 0 ? '+' : ''}${value.toFixed(1)}%`
}

function micros(ns: number): string {
  return formatNumber(ns / 1000)
}

function find(rows: RowResult[], name: string, size: string): RowResult | undefined {
  return rows.find((row) => row.name === name && row.size === size)
}

/** Evaluates every target of issue 5 against the measured figures. */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = []
  const inProcess = results.inProcess
  if (inProcess !== undefined) {
    for (const size of inProcess.options.sizes) {
      const limit = size === '1 KiB' ? 1.1 : 1.03
      for (const name of [OURS_ROW, HANDLE_ROW]) {
        const row = find(inProcess.rows, name, size)
        if (row === undefined) continue
        checks.push({
          target: `in-process ${size}: ${name} <= ${limit.toFixed(2)}x the floor`,
          measured: `${formatRatio(row.toFloor)} (rounds ${formatRatio(row.toFloorRange[0])}-${formatRatio(row.toFloorRange[1])})${row.toFloor > limit ? `; missed by ${percent(row.toFloor / limit)}` : ''}`,
          met: row.toFloor <= limit,
        })
      }
      const peers = inProcess.rows.filter((row) => row.group === 'peer' && row.size === size)
      if (peers.length > 0) {
        const fastest = peers.reduce((best, row) => (row.toOurs < best.toOurs ? row : best))
        checks.push({
          target: `in-process ${size}: ours faster than every peer`,
          measured: `fastest peer ${fastest.name} at ${formatRatio(fastest.toOurs)} ours`,
          met: fastest.toOurs > 1,
        })
      }
    }
  }
  const http = results.http
  if (http !== undefined) {
    for (const ratio of http.ratios) {
      if (ratio.framework === 'node:http') continue
      checks.push({
        target: `HTTP ${ratio.size} ${ratio.framework}: ours >= 0.97x hand-written req/s`,
        measured: `${formatRatio(ratio.oursToHandWritten)}${ratio.oursToHandWritten < 0.97 ? `; missed by ${percent(ratio.oursToHandWritten / 0.97)}` : ''}`,
        met: ratio.oursToHandWritten >= 0.97,
      })
      checks.push({
        target: `HTTP ${ratio.size} ${ratio.framework}: p99 <= 1.10x hand-written`,
        measured: `${formatRatio(ratio.p99ToHandWritten)}${ratio.p99ToHandWritten > 1.1 ? `; missed by ${percent(ratio.p99ToHandWritten / 1.1)}` : ''}`,
        met: ratio.p99ToHandWritten <= 1.1,
      })
      if (Number.isFinite(ratio.oursToOctokit)) {
        checks.push({
          target: `HTTP ${ratio.size} ${ratio.framework}: ours >= octokit middleware req/s`,
          measured: formatRatio(ratio.oursToOctokit),
          met: ratio.oursToOctokit >= 1,
        })
      }
    }
    const nodeRatios = http.ratios.filter((ratio) => ratio.framework === 'node:http')
    for (const ratio of nodeRatios) {
      checks.push({
        target: `HTTP ${ratio.size} node:http: core handle() >= octokit middleware req/s (same server)`,
        measured: formatRatio(ratio.oursToOctokit),
        met: ratio.oursToOctokit >= 1,
      })
    }
  }
  const memory = results.memory
  if (memory !== undefined) {
    const ours = memory.rows.find((row) => row.name.includes('request stream'))
    const hand = memory.rows.find((row) => row.name.startsWith('hand-written'))
    if (ours !== undefined && hand !== undefined) {
      const copies = ours.arrayBuffers / memory.bodyBytes
      checks.push({
        target: 'memory: a 1 MiB body costs about one copy (no double buffering)',
        measured: `${copies.toFixed(2)} copies in Buffers; V8 heap ${formatRatio(ours.heap / hand.heap)} the hand-written route's`,
        met: copies <= 1.1 && ours.heap <= hand.heap * 1.1,
      })
    }
  }
  return checks
}

function inProcessSection(result: InProcessResult): string {
  const parts: string[] = ['## In-process: one event, no HTTP', '']
  parts.push(
    `Ratios are taken within each round (row / \`${FLOOR_ROW}\`, row / \`${OURS_ROW}\`) and the ` +
      'median over rounds is shown; the range is the lowest and highest round. ' +
      'ns/byte = time per event / body size. Lower ratios are better.',
    '',
  )
  for (const size of result.options.sizes) {
    const rows = result.rows.filter((row) => row.size === size && row.group !== 'breakdown')
    const floor = find(result.rows, FLOOR_ROW, size)!
    const [hmac, parse] = FLOOR_PARTS.map((name) => find(result.rows, name, size)!)
    parts.push(`### ${size}`, '')
    parts.push(
      table(
        ['Row', 'ops/s', 'µs/event', 'ns/byte', 'x floor (range)', 'x ours'],
        rows.map((row) => [
          row.group === 'ours' ? `**${row.name}**` : row.name,
          formatNumber(row.opsPerSec),
          micros(row.nsPerOp),
          formatNumber(row.nsPerByte),
          `${formatRatio(row.toFloor)} (${formatRatio(row.toFloorRange[0])}-${formatRatio(row.toFloorRange[1])})`,
          formatRatio(row.toOurs),
        ]),
      ),
      '',
      `Floor measured separately: HMAC ${micros(hmac!.nsPerOp)} µs + JSON.parse ${micros(parse!.nsPerOp)} µs ` +
        `= ${micros(result.floorSum[size]!)} µs (sum); together ${micros(floor.nsPerOp)} µs. ` +
        `JSON.parse is ${((parse!.nsPerOp / (hmac!.nsPerOp + parse!.nsPerOp)) * 100).toFixed(0)}% of the floor.`,
      '',
    )
  }
  const breakdown = result.rows.filter((row) => row.group === 'breakdown')
  if (breakdown.length > 0) {
    parts.push(
      '### Our path taken apart',
      '',
      'The steps of `verifyAndReceive`/`handle()` timed alone in the same rounds (µs per event, and ' +
        'as a share of the floor), to attribute the overhead.',
      '',
      table(
        ['Step', ...result.options.sizes.map((size) => `${size} µs (x floor)`)],
        [...new Set(breakdown.map((row) => row.name))].map((name) => [
          name.replace(/^breakdown: /, ''),
          ...result.options.sizes.map((size) => {
            const row = find(result.rows, name, size)
            return row === undefined
              ? 'n/a'
              : `${micros(row.nsPerOp)} (${formatRatio(row.toFloor)})`
          }),
        ]),
      ),
      '',
    )
  }
  return parts.join('\n')
}

function httpSection(result: HttpResult): string {
  const parts: string[] = ['## Over HTTP', '']
  parts.push(
    `autocannon in the parent process, each server in a child process of its own; ` +
      `${result.options.connections} connections, pipelining ${result.options.pipelining}, ` +
      `${result.options.rounds} measured run(s) of ${result.options.duration} s per server after ` +
      `${result.options.warmup} s of warmup, servers visited in a rotated order each round. req/s, ` +
      'p50 and p99 are medians over the runs; latencies are exact per response (not the 1 ms ' +
      'histogram buckets). Routes: (a) floor = read the body, answer 204; (b) hand-written = read, ' +
      'HMAC, timingSafeEqual, JSON.parse, switch, answer 200; (c) ours = the adapter ' +
      '(node:http: `webhooks.handle()` directly); octokit = `createNodeMiddleware` on node:http. ' +
      'Server CPU µs/req is the CPU time (user + system) the server process used during a run ' +
      'divided by the responses it gave: unlike req/s it hardly moves when the load generator or ' +
      'other work competes for the cores, so it is the steadier figure on a shared machine. ' +
      'Peak RSS is sampled inside each server every 10 ms over all its runs (the idle figure ' +
      'includes the TypeScript loader the children start with).',
    '',
  )
  for (const size of result.options.sizes) {
    const rows = result.rows.filter((row) => row.size === size)
    parts.push(`### ${size}`, '')
    parts.push(
      table(
        [
          'Framework',
          'Route',
          'req/s',
          'p50 ms',
          'p99 ms',
          'server CPU µs/req',
          'peak RSS (idle)',
          'bad answers',
        ],
        rows.map((row: HttpRow) => [
          row.framework,
          row.variant === 'ours' ? '**(c) ours**' : variantLabel(row.variant),
          formatNumber(row.rps),
          row.p50.toFixed(2),
          row.p99.toFixed(2),
          row.cpuPerRequest.toFixed(1),
          `${formatMiB(row.peakRss)} (${formatMiB(row.baselineRss)})`,
          `${row.unexpected + row.errors} of ${row.requests}`,
        ]),
      ),
      '',
    )
    const ratios = result.ratios.filter((ratio) => ratio.size === size)
    parts.push(
      table(
        [
          'Framework',
          '(c)/(a) req/s',
          '(c)/(b) req/s',
          'p99 (c)/(b)',
          'CPU/req (c)/(b)',
          '(c)/octokit req/s',
        ],
        ratios.map((ratio) => [
          ratio.framework,
          formatRatio(ratio.oursToFloor),
          formatRatio(ratio.oursToHandWritten),
          formatRatio(ratio.p99ToHandWritten),
          formatRatio(ratio.cpuToHandWritten),
          formatRatio(ratio.oursToOctokit),
        ]),
      ),
      '',
    )
  }
  return parts.join('\n')
}

function variantLabel(variant: HttpRow['variant']): string {
  switch (variant) {
    case 'floor':
      return '(a) floor'
    case 'hand-written':
      return '(b) hand-written'
    case 'ours':
      return '(c) ours'
    case 'octokit':
      return '@octokit/webhooks createNodeMiddleware'
  }
}

function memorySection(result: MemoryResult): string {
  return [
    '## Memory: one 1 MiB delivery',
    '',
    `Method: a child process started with \`--expose-gc --max-semi-space-size=64\` builds the ` +
      `1 MiB body once and streams it in ${result.chunkBytes / 1024} KiB chunks (views of it, ` +
      "standing for the socket's buffers, so they allocate no bytes). For each delivery it collects garbage twice, reads " +
      '`process.memoryUsage()`, runs the delivery under `v8.GCProfiler`, and reads it again. A ' +
      'window in which any GC ran is discarded, so nothing was freed inside a kept one and the ' +
      'deltas are exactly what the delivery allocated: `arrayBuffers` for Buffers (off the V8 ' +
      'heap), `heapUsed` for strings, parsed objects and promises. Medians over ' +
      `${result.runs} kept deliveries after 5 warmups.`,
    '',
    table(
      [
        'Path',
        'Buffers per delivery',
        'copies of the body',
        'V8 heap per delivery',
        'kept / discarded',
      ],
      result.rows.map((row) => [
        row.name,
        formatMiB(row.arrayBuffers),
        (row.arrayBuffers / result.bodyBytes).toFixed(2),
        formatMiB(row.heap),
        `${row.measured} / ${row.discarded}`,
      ]),
    ),
    '',
    'The V8 heap figure is the same for every path: the decoded string (two bytes per character ' +
      'once the text holds a character outside Latin-1, as this one does) and the parsed objects ' +
      'are the cost of JSON.parse itself.',
    '',
  ].join('\n')
}

function httpProfileSection(profiles: HttpProfileResult[]): string {
  const parts = [
    '## Where the HTTP time goes (CPU profile of the server)',
    '',
    'Each server, warmed up, under 4 s of load at 1 KiB with the V8 CPU profiler running only during ' +
      'that load: its non-idle samples grouped by ' +
      'who owns the sampled function, as shares and as server CPU µs per request (the share times ' +
      'the CPU per request measured in the same run, which the profiler inflates: compare rows, ' +
      'not with the tables above). JSON.parse and other builtins count in the function that calls ' +
      'them; "native" is mostly the socket writes (writev). Files: ' +
      '`packages/bench/results/profiles/http-*.cpuprofile`.',
    '',
  ]
  for (const framework of [...new Set(profiles.map((p) => p.id.split('/')[0]!))]) {
    const hand = profiles.find((p) => p.id === `${framework}/hand-written`)
    const ours = profiles.find((p) => p.id === `${framework}/ours`)
    if (hand === undefined || ours === undefined) continue
    const micros = (p: HttpProfileResult, owner: Owner): number => p.shares[owner] * p.cpuPerRequest
    parts.push(
      `### ${framework}: hand-written ${hand.cpuPerRequest.toFixed(1)} µs/req, ours ${ours.cpuPerRequest.toFixed(1)} µs/req under the profiler`,
      '',
      table(
        ['owner', 'hand-written', 'ours', 'ours - hand-written'],
        OWNERS.map((owner) => [
          owner,
          `${(hand.shares[owner] * 100).toFixed(1)}% (${micros(hand, owner).toFixed(1)} µs)`,
          `${(ours.shares[owner] * 100).toFixed(1)}% (${micros(ours, owner).toFixed(1)} µs)`,
          `${(micros(ours, owner) - micros(hand, owner)).toFixed(1)} µs`,
        ]),
      ),
      '',
      `Heaviest functions of ours (self time): ${ours.top
        .slice(0, 8)
        .map(([frame, share]) => `\`${frame.replace(/\|/g, '\\|')}\` ${(share * 100).toFixed(1)}%`)
        .join(', ')}.`,
      '',
    )
  }
  return parts.join('\n')
}

function profileSection(profiles: ProfileResult[]): string {
  const parts = [
    '## Where our time goes (CPU profile)',
    '',
    '`node --cpu-prof` of a loop delivering one body through `handle()` (pre-read body) and through ' +
      "the hand-written code, 3-4 s each. Shares are of the loop's samples plus garbage collection; " +
      '"total" includes callees. The profiler slows everything, so compare shares, not times. ' +
      'Builtins such as JSON.parse are counted in the JavaScript function that calls them ' +
      '(`parseEvent`, `handWritten`). Files: `packages/bench/results/profiles/` ' +
      '(open in Chrome DevTools or speedscope for a flame graph).',
    '',
  ]
  for (const result of profiles) {
    parts.push(
      `### ${result.path} at ${result.bytes >= 1024 * 1024 ? `${result.bytes / 1024 / 1024} MiB` : `${result.bytes / 1024} KiB`} (${formatNumber(result.microsPerDelivery)} µs per delivery under the profiler)`,
      '',
      table(
        ['total', 'self', 'function'],
        result.entries
          .filter((entry) => entry.total >= 0.01)
          .slice(0, 16)
          .map((entry) => [
            `${(entry.total * 100).toFixed(1)}%`,
            `${(entry.self * 100).toFixed(1)}%`,
            `\`${entry.frame.replace(/\|/g, '\\|').slice(0, 110)}\``,
          ]),
      ),
      '',
    )
  }
  return parts.join('\n')
}

/** The whole BENCHMARKS.md. */
export function renderReport(results: BenchResults): string {
  const { machine } = results
  const checks = checkTargets(results)
  const parts: string[] = [
    '# Benchmarks',
    '',
    `Generated by \`${results.command}\` (packages/bench) on ${results.date}; do not edit by hand, ` +
      're-run the command. Everything below was measured in that one run.',
    '',
  ]
  if (results.quick) {
    parts.push(
      '> **Quick mode**: fewer sizes, rounds and seconds. It proves the suite works; its figures ' +
        'are not for comparison.',
      '',
    )
  }
  if (results.note !== undefined) parts.push(`> **Note:** ${results.note}`, '')
  parts.push(
    '## Machine',
    '',
    table(
      ['', ''],
      [
        ['CPU', machine.cpu],
        ['Cores', String(machine.cores)],
        ['RAM', `${(machine.memory / 1024 ** 3).toFixed(1)} GiB`],
        ['OS', machine.os],
        ['Node.js', machine.node],
        ['Date', results.date],
        ['Command', `\`${results.command}\``],
        ['Duration', `${Math.round(results.seconds)} s`],
        [
          'Load average (1 min) before / after',
          `${results.loadBefore} / ${results.loadAfter} on ${machine.cores} cores`,
        ],
        [
          'Packages',
          Object.entries(machine.packages)
            .map(([name, version]) => `${name} ${version}`)
            .join(', '),
        ],
      ],
    ),
    '',
  )
  if (checks.length > 0) {
    parts.push(
      '## Targets (issue 5)',
      '',
      table(
        ['Target', 'Measured', 'Met'],
        checks.map((check) => [
          check.target,
          check.measured,
          check.met === undefined ? 'n/a' : check.met ? 'yes' : '**no**',
        ]),
      ),
      '',
    )
  }
  if (results.inProcess !== undefined) parts.push(inProcessSection(results.inProcess))
  if (results.http !== undefined) parts.push(httpSection(results.http))
  if (results.memory !== undefined) parts.push(memorySection(results.memory))
  if (results.queue !== undefined) parts.push(queueModeSection(results.queue))
  if (results.profiles !== undefined && results.profiles.length > 0) {
    parts.push(profileSection(results.profiles))
  }
  if (results.httpProfiles !== undefined && results.httpProfiles.length > 0) {
    parts.push(httpProfileSection(results.httpProfiles))
  }
  return `${parts.join('\n').trimEnd()}\n`
}
