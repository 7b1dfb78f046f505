import { Webhooks, toFetchHandler } from '@ecampus-webhooks/core/web'

// Module scope: one instance per server (or edge isolate), reused by every request.
const webhooks = new Webhooks({ secret: process.env.ECAMPUS_WEBHOOK_SECRET! })

webhooks.on('message.created', (event) => {
  // event.payload is a typed Message.
  console.log(`new message from @${event.payload.contact.username}: ${event.payload.message}`)
})
webhooks.on(['contact.created', 'contact.updated'], (event) => {
  console.log(`contact ${event.payload.username} ${event.type.split('.')[1]}`)
})
webhooks.onError((error, event) => {
  console.error(`handlers failed for ${event.id}: ${error.message}`)
})

// The whole receiver: Next.js calls POST(request) with a Web Request for /api/ecampus. Other
// methods get Next's own 405; the route must not read the body before this handler does.
export const POST = toFetchHandler(webhooks)

// Works on both runtimes: Node.js (the default) and 'edge' (no node: module is needed).
// export const runtime = 'edge'
