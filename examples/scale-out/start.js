// Starts two receivers (ports 3001 and 3002) and one worker, all on the Redis at REDIS_URL.
// Ctrl+C stops them gracefully. Then run `node send.js` in another terminal.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { tell } from './config.js'

const here = (file) => fileURLToPath(new URL(file, import.meta.url))
const ports = (process.env.PORTS ?? '3001,3002').split(',')

function start(file, env = {}) {
  const child = fork(here(file), { env: { ...process.env, ...env }, stdio: 'inherit' })
  const ready = Promise.race([
    once(child, 'message').then(([message]) => message),
    once(child, 'exit').then(([code]) => {
      throw new Error(`${file} exited with ${code} before it was ready`)
    }),
  ])
  return { child, ready }
}

const children = [...ports.map((port) => start('receiver.js', { PORT: port })), start('worker.js')]
const ready = await Promise.all(children.map((c) => c.ready))
const receivers = ready
  .filter((m) => m.receiver)
  .map((m) => `http://127.0.0.1:${m.receiver}/webhooks`)
console.log(`\nReady: ${receivers.length} receivers and 1 worker. Send events with:`)
console.log(`  RECEIVERS=${receivers.join(',')} node send.js\n`)
tell({ receivers })

let stopping = false
function stop() {
  if (stopping) return
  stopping = true
  for (const { child } of children) child.kill('SIGTERM')
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
// Exits 0 only if every child shut down cleanly.
const codes = await Promise.all(
  children.map(({ child }) =>
    child.exitCode === null ? once(child, 'exit').then(([code]) => code) : child.exitCode,
  ),
)
process.exit(codes.every((code) => code === 0) ? 0 : 1)
