/**
 * Where an HTTP request's server time goes: one target under load with V8's CPU profiler, its
 * samples grouped by who owns the code (our packages, the framework, Node's HTTP and streams,
 * node:crypto, native calls such as the socket writes, garbage collection), so the report can say
 * what the gap between our adapter and a hand-written route is made of.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { profileUnderLoad } from './http.js'
import { PROFILE_DIR } from './profile.js'

/** Who owns a sampled function. */
export type Owner =
  | 'our packages'
  | 'hand-written route'
  | 'framework'
  | 'node:crypto'
  | 'Node HTTP, streams, events'
  | 'native (socket writes, JSON, ...)'
  | 'garbage collection'

export const OWNERS: readonly Owner[] = [
  'our packages',
  'hand-written route',
  'framework',
  'node:crypto',
  'Node HTTP, streams, events',
  'native (socket writes, JSON, ...)',
  'garbage collection',
]

/** One target profiled under load. */
export interface HttpProfileResult {
  id: string
  bytes: number
  requests: number
  /** Server CPU per request under the profiler (it adds its own cost). */
  cpuPerRequest: number
  /** Share of non-idle samples per owner. */
  shares: Record<Owner, number>
  /** The heaviest functions by self time: `[frame, share]`. */
  top: [string, number][]
  file: string
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]
  samples: number[]
  timeDeltas: number[]
}

const IDLE = new Set(['(idle)', '(program)', '(root)'])

function ownerOf(name: string, url: string): Owner {
  if (name === '(garbage collector)') return 'garbage collection'
  if (/\/packages\/(?:core|express|koa|fastify)\//.test(url) || url.includes('@ecampus-webhooks/'))
    return 'our packages'
  if (url.includes('/packages/bench/')) return 'hand-written route'
  if (url.includes('/node_modules/')) return 'framework'
  if (url.startsWith('node:internal/crypto')) return 'node:crypto'
  if (url.startsWith('node:')) return 'Node HTTP, streams, events'
  return 'native (socket writes, JSON, ...)'
}

function frameName(name: string, url: string, line: number): string {
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, '')
    .replace(/^.*\/packages\//, 'packages/')
  return file === '' ? name || '(anonymous)' : `${name || '(anonymous)'} (${file}:${line + 1})`
}

/** Profiles target `id` (e.g. `'Express 5/ours'`) for `seconds` of load at `bytes`. */
export async function profileHttp(
  id: string,
  bytes: number,
  seconds: number,
): Promise<HttpProfileResult> {
  await mkdir(PROFILE_DIR, { recursive: true })
  const file = join(PROFILE_DIR, `http-${id.replace(/[^a-z0-9]+/gi, '-')}-${bytes}.cpuprofile`)
  const load = await profileUnderLoad(id, bytes, seconds, file)
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const shares = Object.fromEntries(OWNERS.map((owner) => [owner, 0])) as Record<Owner, number>
  const self = new Map<string, number>()
  let all = 0
  profile.samples.forEach((nodeId, i) => {
    const frame = byId.get(nodeId)!
    if (IDLE.has(frame.functionName)) return
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0)
    all += delta
    shares[ownerOf(frame.functionName, frame.url)] += delta
    const key = frameName(frame.functionName, frame.url, frame.lineNumber)
    self.set(key, (self.get(key) ?? 0) + delta)
  })
  for (const owner of OWNERS) shares[owner] /= all
  const top = [...self.entries()]
    .map(([frame, time]): [string, number] => [frame, time / all])
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
  return { id, bytes, ...load, shares, top, file }
}
