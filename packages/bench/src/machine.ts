import { readFileSync } from 'node:fs'
import os from 'node:os'

/** Where and with what the suite ran. */
export interface MachineInfo {
  cpu: string
  cores: number
  memory: number
  os: string
  node: string
  /** Versions of every measured package, as installed. */
  packages: Record<string, string>
}

const MEASURED = [
  '@ecampus-webhooks/core',
  '@octokit/webhooks',
  '@octokit/webhooks-methods',
  'standardwebhooks',
  'svix',
  'stripe',
  'express',
  'koa',
  'fastify',
  'autocannon',
  'tinybench',
]

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (match?.[1] !== undefined) return match[1].trim()
  } catch {
    // Not Linux: os.cpus() below.
  }
  return os.cpus()[0]?.model ?? 'unknown'
}

function version(name: string): string {
  // Read from this package's node_modules: not every package exports its package.json.
  try {
    const file = new URL(`../node_modules/${name}/package.json`, import.meta.url)
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

/** Collects the machine, OS, Node and package versions. */
export function machineInfo(): MachineInfo {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memory: os.totalmem(),
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    packages: Object.fromEntries(MEASURED.map((name) => [name, version(name)])),
  }
}

/** The 1-minute load average, as a string. */
export function loadAverage(): string {
  return os.loadavg()[0]!.toFixed(2)
}
