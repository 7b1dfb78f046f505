/**
 * The server child of the HTTP benchmark: starts one target (its id is argv[2]), tells the parent
 * its port over IPC, and samples its own RSS so the parent can ask for the peak. It exits when
 * the parent disconnects.
 */
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { eventsReceived, listenTarget } from './http-targets.js'

/** What the child tells the parent. */
export type ServerMessage =
  | { type: 'ready'; port: number; baselineRss: number }
  | { type: 'stats'; peakRss: number; baselineRss: number; events: number }
  | { type: 'cpu'; micros: number }
  | { type: 'profiled' }

/** What the parent asks the child. */
export type ParentMessage =
  | { type: 'stats' }
  | { type: 'cpu' }
  | { type: 'profile-start' }
  | { type: 'profile-stop'; file: string }

const id = process.argv[2]
if (id === undefined || process.send === undefined) {
  throw new Error(
    'http-server.ts runs as an IPC child: spawn it with the target id and an ipc stdio.',
  )
}
const send = process.send.bind(process)

const { server, port } = await listenTarget(id)
const baselineRss = process.memoryUsage.rss()
let peakRss = baselineRss
send({ type: 'ready', port, baselineRss } satisfies ServerMessage)
// Sampled on a timer between requests: it runs whenever the loop turns, which under load is
// every few milliseconds, so short peaks between samples are possible but small.
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss()
  if (rss > peakRss) peakRss = rss
}, 10)

// The CPU profiler runs only while the parent loads the server: startup is left out.
const session = new Session()

process.on('message', (message: ParentMessage) => {
  if (message.type === 'profile-start') {
    session.connect()
    void session
      .post('Profiler.enable')
      .then(() => session.post('Profiler.start'))
      .then(() => send({ type: 'profiled' } satisfies ServerMessage))
  } else if (message.type === 'profile-stop') {
    void session
      .post('Profiler.stop')
      .then(({ profile }) => writeFile(message.file, JSON.stringify(profile)))
      .then(() => {
        session.disconnect()
        send({ type: 'profiled' } satisfies ServerMessage)
      })
  } else if (message.type === 'cpu') {
    // CPU time this process used so far (user + system): per request, it is what the route costs
    // even when the load generator and other work compete for the cores.
    const { user, system } = process.cpuUsage()
    send({ type: 'cpu', micros: user + system } satisfies ServerMessage)
  } else if (message.type === 'stats') {
    const rss = process.memoryUsage.rss()
    if (rss > peakRss) peakRss = rss
    send({ type: 'stats', peakRss, baselineRss, events: eventsReceived() } satisfies ServerMessage)
  }
})
process.on('disconnect', () => {
  clearInterval(sampler)
  server.closeAllConnections()
  server.close()
  process.exit(0)
})
