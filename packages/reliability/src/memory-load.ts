/**
 * The memory proof of issue 4: many clients each declaring or streaming a body ten times the
 * limit at once, against a receiver in a child process whose RSS is sampled. Used by
 * test/memory.test.ts; run it directly to print the figures, with and without the core's
 * maxBufferedBytes budget:
 *
 *     pnpm exec tsx src/memory-load.ts            # default budget
 *     pnpm exec tsx src/memory-load.ts unbounded  # budget off
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { RawConnection, chunk, within } from '@ecampus-webhooks/conformance/client'
import type { MemoryServerMessage } from './memory-server.js'

const MiB = 1024 * 1024
/** The receiver's maxBodySize (memory-server.ts). */
export const LIMIT = 1 * MiB

/** Options of `measureMemory()`. */
export interface MemoryLoadOptions {
  /** Clients sending `Content-Length: bodyBytes`, half patient, half eager. @default 100 */
  declaring?: number
  /** Clients sending `Transfer-Encoding: chunked` with no length. @default 100 */
  streaming?: number
  /** What each client tries to send. @default 10 MiB */
  bodyBytes?: number
  /** Passed to the receiver as maxBufferedBytes; `undefined` keeps the core's default. */
  maxBufferedBytes?: number
}

/** How one client fared. */
export type ClientOutcome =
  /** A complete response with this status arrived. */
  | { status: number; sent: number }
  /** The connection closed before a complete response arrived. */
  | { status: 'cut'; sent: number; reason: string }

/** The figures of one run. */
export interface MemoryReport {
  baselineRss: number
  peakRss: number
  finalRss: number
  /** peakRss - baselineRss. */
  growth: number
  handlerCalls: number
  outcomes: (ClientOutcome & { mode: ClientMode })[]
  /** `<mode> <status or cut>` -> number of clients. */
  tally: Record<string, number>
}

const SIGNATURE = 'ab'.repeat(32) // well formed, so chunked bodies are read before verifying
const PIECE = 64 * 1024
/**
 * How long streaming clients hold a nearly complete body (limit minus one piece) before sending
 * the rest, when not all of them got there: long enough that every body the receiver admitted is
 * buffered at the same time, the worst case for its memory. Not an assertion on time.
 */
const HOLD_MS = 1_500

/** What a client does. */
export type ClientMode =
  /** Declares the length and waits for the answer before sending (an `Expect`-style client). */
  | 'declaring-patient'
  /** Declares the length and sends the body at once. */
  | 'declaring-eager'
  /** Chunked, no length: sends limit minus one piece, holds, then keeps sending. */
  | 'streaming'

/** Resolves once `count` arrivals were counted, or after `ms`, whichever comes first. */
function barrier(count: number, ms: number): { arrive: () => void; passed: Promise<void> } {
  let arrived = 0
  let open!: () => void
  const passed = new Promise<void>((resolve) => {
    open = resolve
  })
  const timer = setTimeout(open, ms)
  void passed.then(() => clearTimeout(timer))
  return {
    arrive: () => {
      arrived += 1
      if (arrived >= count) open()
    },
    passed,
  }
}

async function client(
  port: number,
  mode: ClientMode,
  bodyBytes: number,
  limit: number,
  hold: ReturnType<typeof barrier>,
): Promise<ClientOutcome & { mode: ClientMode }> {
  const connection = await RawConnection.open(`http://127.0.0.1:${port}`)
  const streaming = mode === 'streaming'
  const head = [
    'POST /webhooks HTTP/1.1',
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    `X-eCampus-Signature: ${SIGNATURE}`,
    streaming ? 'Transfer-Encoding: chunked' : `Content-Length: ${bodyBytes}`,
  ].join('\r\n')
  const piece = Buffer.alloc(PIECE, 0x20)
  const frame = streaming ? chunk(piece) : piece
  let sent = 0
  let held = !streaming
  try {
    let open = await connection.write(`${head}\r\n\r\n`)
    if (mode === 'declaring-patient') {
      await Promise.race([connection.response, connection.closed])
    }
    // Keep sending until told (a response, or the server hung up) or the body is complete.
    while (open && !connection.hasResponse && sent < bodyBytes) {
      if (!held && sent + PIECE >= limit) {
        held = true
        hold.arrive()
        await hold.passed
        continue
      }
      open = await connection.write(frame)
      if (open) sent += PIECE
    }
    if (!held) hold.arrive()
    if (open && !connection.hasResponse && streaming) await connection.write('0\r\n\r\n')
    const response = await within(connection.response, `the response to a ${mode} client`, 60_000)
    return { mode, status: response.status, sent }
  } catch (error) {
    if (!held) hold.arrive()
    return { mode, status: 'cut', sent, reason: String(error) }
  } finally {
    connection.destroy()
  }
}

/**
 * Starts the receiver in a child process (with `--expose-gc`, so the baseline follows a full
 * GC), runs every client at once, and returns the child's RSS figures and each client's outcome.
 */
export async function measureMemory(options: MemoryLoadOptions = {}): Promise<MemoryReport> {
  const { declaring = 100, streaming = 100, bodyBytes = 10 * MiB, maxBufferedBytes } = options
  const script = fileURLToPath(new URL('./memory-server.ts', import.meta.url))
  const child = fork(script, [], {
    // `--import tsx` resolves from here: this package depends on tsx.
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    execArgv: [
      '--expose-gc',
      ...(process.env.MEM_SEMI ? ['--max-semi-space-size=' + process.env.MEM_SEMI] : []),
      '--import',
      'tsx',
    ],
    env: {
      ...process.env,
      ...(maxBufferedBytes === undefined
        ? {}
        : { MEMORY_MAX_BUFFERED_BYTES: String(maxBufferedBytes) }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const next = (type: MemoryServerMessage['type']): Promise<MemoryServerMessage> =>
    within(
      new Promise<MemoryServerMessage>((resolve, reject) => {
        const onMessage = (message: MemoryServerMessage): void => {
          if (message.type !== type) return
          child.off('message', onMessage)
          child.off('exit', onExit)
          resolve(message)
        }
        const onExit = (code: number | null): void =>
          reject(new Error(`the memory server exited (${code}) before sending ${type}`))
        child.on('message', onMessage)
        child.once('exit', onExit)
      }),
      `the memory server's ${type} message`,
      60_000,
    )
  try {
    const ready = await next('ready')
    if (ready.type !== 'ready') throw new Error('unreachable')
    const hold = barrier(streaming, HOLD_MS)
    const modes: ClientMode[] = [
      ...Array.from({ length: declaring }, (_, i): ClientMode =>
        i % 2 ? 'declaring-eager' : 'declaring-patient',
      ),
      ...Array.from({ length: streaming }, (): ClientMode => 'streaming'),
    ]
    const outcomes = await Promise.all(
      modes.map((mode) => client(ready.port, mode, bodyBytes, LIMIT, hold)),
    )
    child.send({ type: 'report' })
    const report = await next('report')
    if (report.type !== 'report') throw new Error('unreachable')
    const tally: Record<string, number> = {}
    for (const { mode, status } of outcomes) {
      tally[`${mode} ${status}`] = (tally[`${mode} ${status}`] ?? 0) + 1
    }
    return {
      baselineRss: report.baselineRss,
      peakRss: report.peakRss,
      finalRss: report.finalRss,
      growth: report.peakRss - report.baselineRss,
      handlerCalls: report.handlerCalls,
      outcomes,
      tally,
    }
  } finally {
    if (child.connected) child.send({ type: 'stop' })
    const exited: Promise<unknown> =
      child.exitCode !== null ? Promise.resolve() : once(child, 'exit')
    await within(exited, 'the memory server to exit', 15_000).catch(() => child.kill('SIGKILL'))
  }
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const unbounded = process.argv.includes('unbounded')
  const report = await measureMemory(unbounded ? { maxBufferedBytes: Number.MAX_SAFE_INTEGER } : {})
  console.log(
    `${unbounded ? 'maxBufferedBytes off' : 'maxBufferedBytes default'}: baseline ${mib(report.baselineRss)}, ` +
      `peak ${mib(report.peakRss)}, growth ${mib(report.growth)}, final ${mib(report.finalRss)}, ` +
      `handler calls ${report.handlerCalls}, outcomes ${JSON.stringify(report.tally)}`,
  )
}
