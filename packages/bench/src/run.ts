/**
 * `pnpm bench [--quick] [--only in-process,http,memory,queue,profile] [--targets node:http,Express]
 * [--out FILE] [--note TEXT] [--render results/latest.json]`:
 * runs the suite, prints the report, and writes it (the full run to BENCHMARKS.md at the
 * repository root, --quick to packages/bench/results/BENCHMARKS.quick.md) with the raw figures
 * as JSON next to it in packages/bench/results/.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runHttp } from './http.js'
import { runInProcess } from './in-process.js'
import { loadAverage, machineInfo } from './machine.js'
import { runMemory } from './memory.js'
import { SIZES } from './payload.js'
import { profile } from './profile.js'
import { profileHttp } from './http-profile.js'
import { FRAMEWORKS } from './http-targets.js'
import { runQueueMode } from './queue-mode.js'
import { renderReport } from './report.js'
import type { BenchResults } from './report.js'

const SECTIONS = ['in-process', 'http', 'memory', 'queue', 'profile'] as const
type Section = (typeof SECTIONS)[number]

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    note: { type: 'string' },
    // Re-render a report from a results JSON (e.g. results/latest.json) instead of measuring.
    render: { type: 'string' },
    // HTTP targets whose id ('Express 5/ours', 'node:http/floor', ...) contains one of these.
    targets: { type: 'string' },
  },
})
const targetFilter = values.targets?.split(',')
const quick = values.quick
const only = new Set(
  (values.only?.split(',') ?? SECTIONS).map((name) => {
    if (!(SECTIONS as readonly string[]).includes(name)) {
      throw new Error(`--only takes ${SECTIONS.join(', ')}; got ${JSON.stringify(name)}.`)
    }
    return name as Section
  }),
)

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))
const out =
  values.out ??
  (quick
    ? `${RESULTS_DIR}BENCHMARKS.quick.md`
    : fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url)))

// Full: about 7 minutes. Quick: well under a minute, to prove the suite runs (CI).
const config = quick
  ? {
      inProcess: { sizes: SIZES.slice(0, 2), rounds: 2, time: 40, warmupTime: 15 },
      http: { sizes: SIZES.slice(0, 1), rounds: 1, duration: 1, warmup: 0, connections: 32 },
      memoryRuns: 5,
    }
  : {
      inProcess: { sizes: SIZES, rounds: 5, time: 250, warmupTime: 50 },
      http: { sizes: SIZES.slice(0, 2), rounds: 3, duration: 3, warmup: 1, connections: 32 },
      memoryRuns: 20,
    }

const log = (line: string): void => console.log(line)
const started = performance.now()
if (values.render !== undefined) {
  // The measured figures as they were; only the note (and the rendering code) may be newer.
  const saved = JSON.parse(await readFile(values.render, 'utf8')) as BenchResults
  if (values.note !== undefined) saved.note = values.note
  const report = renderReport(saved)
  await writeFile(out, await formatted(out, report))
  console.log(`Rendered ${values.render} to ${out}.`)
  process.exit(0)
}

const results: BenchResults = {
  quick,
  command: `pnpm bench${quick ? ' --quick' : ''}${values.only === undefined ? '' : ` --only ${values.only}`}`,
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  seconds: 0,
  loadBefore: loadAverage(),
  loadAfter: '',
  note: values.note,
  machine: machineInfo(),
}

if (only.has('in-process')) {
  log('In-process rows...')
  results.inProcess = await runInProcess({ ...config.inProcess, log })
}
if (only.has('http')) {
  log('HTTP servers...')
  results.http = await runHttp({
    ...config.http,
    log,
    ...(targetFilter === undefined
      ? {}
      : { only: (id: string) => targetFilter.some((part) => id.includes(part)) }),
  })
}
if (only.has('memory')) {
  log('Memory...')
  results.memory = await runMemory(config.memoryRuns)
}
if (only.has('queue')) {
  // Queue mode needs Redis: CI and this machine run one; elsewhere the section says it was skipped.
  if (process.env.REDIS_URL === undefined && !(await redisAnswers())) {
    log('Queue mode skipped: no Redis (set REDIS_URL).')
  } else {
    log('Queue mode...')
    results.queue = await runQueueMode(quick)
  }
}
if (only.has('profile') && !quick) {
  log('CPU profiles...')
  results.profiles = []
  for (const [path, bytes] of [
    ['ours', 1024],
    ['hand-written', 1024],
    ['ours', 1024 * 1024],
    ['hand-written', 1024 * 1024],
  ] as const) {
    results.profiles.push(await profile(path, bytes, 3))
  }
  log('CPU profiles of the HTTP servers...')
  results.httpProfiles = []
  for (const framework of FRAMEWORKS) {
    for (const variant of ['hand-written', 'ours'] as const) {
      results.httpProfiles.push(await profileHttp(`${framework}/${variant}`, 1024, 4))
    }
  }
}

results.seconds = (performance.now() - started) / 1000
results.loadAfter = loadAverage()
const report = renderReport(results)
console.log(`\n${report}`)
await mkdir(dirname(out), { recursive: true })
await writeFile(out, await formatted(out, report))
await mkdir(RESULTS_DIR, { recursive: true })
const json = `${RESULTS_DIR}${quick ? 'quick' : 'latest'}.json`
await writeFile(json, await formatted(json, JSON.stringify(results)))
console.log(`Wrote ${out} in ${Math.round(results.seconds)} s.`)

/**
 * Formats an output file with the repository's Prettier config, so `prettier --check .` (part of
 * `pnpm lint`) stays clean after a run. Prettier is the workspace root's dev dependency; without
 * it the text is written as is.
 */
async function formatted(file: string, text: string): Promise<string> {
  try {
    const prettier = await import('prettier')
    const config = await prettier.resolveConfig(file)
    return await prettier.format(text, { ...config, filepath: file })
  } catch {
    return text
  }
}

/** True when a Redis answers on the default 127.0.0.1:6379. */
async function redisAnswers(): Promise<boolean> {
  const { createConnection } = await import('node:net')
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: 6379 })
    socket.setTimeout(500)
    socket.once('connect', () => {
      socket.end('PING\r\n')
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}
