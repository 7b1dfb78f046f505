import { mkdir, readFile, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { forkTs } from './child.js'

/** A function's share of the profiled time. */
export interface ProfileEntry {
  /** `name (file:line)`, with the file relative to the package it lives in. */
  frame: string
  /** Share of all sampled time spent in the function itself. */
  self: number
  /** Share of all sampled time spent in the function and what it called. */
  total: number
}

/** One profiled path at one size. */
export interface ProfileResult {
  path: 'ours' | 'hand-written'
  bytes: number
  deliveries: number
  /** Microseconds per delivery over the profiled loop (the profiler itself slows it down). */
  microsPerDelivery: number
  seconds: number
  entries: ProfileEntry[]
  file: string
}

interface CpuProfile {
  nodes: {
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: number[]
  }[]
  samples: number[]
  timeDeltas: number[]
}

/** The directory profiles are written to (open them in Chrome DevTools or speedscope). */
export const PROFILE_DIR = fileURLToPath(new URL('../results/profiles/', import.meta.url))

/** Profiles `path` at `bytes` for `seconds` with `node --cpu-prof` and summarises the profile. */
export async function profile(
  path: 'ours' | 'hand-written',
  bytes: number,
  seconds: number,
): Promise<ProfileResult> {
  const dir = join(PROFILE_DIR, `${path}-${bytes}`)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const child = forkTs(
    new URL('./profile-workload.ts', import.meta.url),
    [path, String(bytes), String(seconds)],
    ['--cpu-prof', `--cpu-prof-dir=${dir}`],
  )
  let deliveries = 0
  child.on('message', (message: { deliveries: number }) => (deliveries = message.deliveries))
  await new Promise((resolve) => child.once('exit', resolve))
  const [name] = (await readdir(dir)).filter((file) => file.endsWith('.cpuprofile'))
  if (name === undefined) throw new Error(`No profile was written to ${dir}.`)
  const file = join(dir, name)
  const parsed = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  return {
    path,
    bytes,
    deliveries,
    microsPerDelivery: (seconds * 1e6) / deliveries,
    seconds,
    entries: summarise(parsed),
    file,
  }
}

function frameName(frame: CpuProfile['nodes'][number]['callFrame']): string {
  const name = frame.functionName || '(anonymous)'
  if (frame.url === '') return name
  const url = frame.url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, '')
    .replace(/^.*\/packages\//, 'packages/')
  return `${name} (${url}:${frame.lineNumber + 1})`
}

/** The workload's loop function: only samples under it (and GC) are the delivery's cost. */
const LOOP = 'deliveryLoop'
const GC = '(garbage collector)'

/**
 * Self and inclusive time per function, as shares of the time spent delivering (samples under
 * the workload loop, plus garbage collection, which the profiler puts at the root), largest
 * inclusive first. Module loading and idle time before the loop are left out.
 */
function summarise(profile: CpuProfile): ProfileEntry[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let all = 0
  profile.samples.forEach((id, i) => {
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0)
    const stack: string[] = []
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      stack.push(frameName(byId.get(node)!.callFrame))
    }
    const leaf = stack[0]!
    if (leaf !== GC && !stack.some((frame) => frame.startsWith(`${LOOP} `))) return
    all += delta
    self.set(leaf, (self.get(leaf) ?? 0) + delta)
    // Each function counts once per sample however deep it recurses; frames above the loop
    // (module evaluation) would only read 100%.
    const seen = new Set<string>()
    for (const frame of stack) {
      if (seen.has(frame)) continue
      seen.add(frame)
      total.set(frame, (total.get(frame) ?? 0) + delta)
      if (frame.startsWith(`${LOOP} `)) break
    }
  })
  return [...total.entries()]
    .map(([frame, time]) => ({ frame, self: (self.get(frame) ?? 0) / all, total: time / all }))
    .filter((entry) => !entry.frame.startsWith(`${LOOP} `) && entry.frame !== '(root)')
    .sort((a, b) => b.total - a.total || b.self - a.self)
}

// `pnpm --filter @ecampus-webhooks/bench profile`: print the summaries.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [path, bytes] of [
    ['ours', 1024],
    ['hand-written', 1024],
    ['ours', 1024 * 1024],
    ['hand-written', 1024 * 1024],
  ] as const) {
    const result = await profile(path, bytes, 4)
    console.log(
      `\n${path} at ${bytes} bytes: ${result.microsPerDelivery.toFixed(1)} µs/delivery (${result.file})`,
    )
    for (const entry of result.entries.slice(0, 25)) {
      console.log(
        `${(entry.total * 100).toFixed(1).padStart(6)}% ${(entry.self * 100).toFixed(1).padStart(6)}%  ${entry.frame}`,
      )
    }
  }
}
