import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

/** The built bin, run with the Node running the tests. */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

/** Distinctive, so a leak into any output is unmistakable. */
export const SECRET = 'whsec_LEAK-CANARY_cli_5d1e9b7a'

/** Hang guard for one spawned command, not a timing assertion. */
const RUN_GUARD = 20_000

const children = new Set<ChildProcess>()

/** Kills (by pid, each one we spawned) whatever a failed test left running. */
export function killLeftovers(): void {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Extra environment; `ECAMPUS_WEBHOOK_SECRET` is never inherited from the test process. */
  env?: Record<string, string>
  /** Written to stdin, then stdin is closed. Without it stdin is empty (not a terminal). */
  input?: string | Buffer
}

function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra }
  if (!('ECAMPUS_WEBHOOK_SECRET' in extra)) delete env.ECAMPUS_WEBHOOK_SECRET
  return env
}

function track(child: ChildProcess): ChildProcess {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** Runs `node dist/cli.js ...args` to completion. */
export function run(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const child = track(
    spawn(process.execPath, [CLI, ...args], {
      env: environment(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  )
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.stdin!.on('error', () => {}) // the CLI may exit before reading stdin
  child.stdin!.end(options.input ?? '')
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`ecampus-webhooks ${args.join(' ')} did not exit:\n${stdout}${stderr}`))
    }, RUN_GUARD)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

export interface Listener {
  /** The URL `listen` printed. */
  url: string
  child: ChildProcess
  /** Everything printed so far. */
  stdout(): string
  stderr(): string
  /** Resolves once stdout holds the text. */
  waitFor(text: string | RegExp): Promise<void>
  /** Sends a signal and resolves with the exit. */
  stop(signal?: NodeJS.Signals): Promise<RunResult>
}

/** Spawns `listen` with the given arguments and resolves once it printed its URL. */
export async function startListen(
  args: readonly string[],
  env: Record<string, string> = { ECAMPUS_WEBHOOK_SECRET: SECRET },
): Promise<Listener> {
  const child = track(
    spawn(process.execPath, [CLI, 'listen', ...args], {
      env: environment(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
  let stdout = ''
  let stderr = ''
  const waiters = new Set<() => void>()
  const notify = () => {
    for (const waiter of waiters) waiter()
  }
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    notify()
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    notify()
  })
  const exited = new Promise<RunResult>((resolve) => {
    child.once('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr })
      notify()
    })
  })

  const waitFor = (text: string | RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        const found = typeof text === 'string' ? stdout.includes(text) : text.test(stdout)
        if (found) {
          waiters.delete(check)
          clearTimeout(guard)
          resolve()
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check)
          clearTimeout(guard)
          reject(new Error(`listen exited before printing ${String(text)}:\n${stdout}${stderr}`))
        }
      }
      const guard = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`listen never printed ${String(text)}:\n${stdout}${stderr}`))
      }, RUN_GUARD)
      waiters.add(check)
      check()
    })

  await waitFor(/Listening on \S+/)
  const url = /Listening on (\S+)/.exec(stdout)![1]!
  return {
    url,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor,
    stop: (signal = 'SIGTERM') => {
      child.kill(signal)
      return exited
    },
  }
}

/** What the recording receiver saw of one request. */
export interface Recorded {
  method: string
  url: string
  headers: IncomingHttpHeaders
  rawHeaders: string[]
  body: Buffer
}

export interface Recorder {
  url: string
  requests: Recorded[]
  /** What the next requests are answered. */
  reply: { status: number; body: string }
  close(): Promise<void>
}

/** A plain node:http server that records each request's exact bytes and answers `reply`. */
export async function startRecorder(): Promise<Recorder> {
  const requests: Recorded[] = []
  const reply = { status: 200, body: '{"ok":true}' }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      })
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    requests,
    reply,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A loopback port nothing listens on (just released by a server of ours). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Asserts nothing a command printed holds the secret. */
export function outputOf(...results: { stdout: string; stderr: string }[]): string {
  return results.map((result) => result.stdout + result.stderr).join('\n')
}
