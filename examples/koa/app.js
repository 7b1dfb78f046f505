import Koa from 'koa'
import { ecampusWebhooks } from '@ecampus-webhooks/koa'

/**
 * A Koa app that keeps a contact directory and a message log up to date from eCampus webhooks,
 * next to an ordinary JSON API.
 *
 * @param {string} secret the webhook secret from your eCampus settings
 * @param {{ log?: (line: string) => void }} [options]
 */
export function createApp(secret, { log = console.log } = {}) {
  const contacts = new Map()
  const messages = []

  const webhooks = ecampusWebhooks(secret)
  webhooks.on(['contact.created', 'contact.updated'], (event) => {
    contacts.set(event.payload.id, event.payload)
  })
  webhooks.on('contact.deleted', (event) => {
    contacts.delete(event.payload.id)
  })
  webhooks.on('message.created', (event) => {
    messages.push(event.payload)
    log(`new message from @${event.payload.contact.username}: ${event.payload.message}`)
  })
  webhooks.onAny((event) => log(`received ${event.type} ${event.id}`))
  webhooks.onError((error, event) => log(`handlers failed for ${event.id}: ${error.message}`))

  const app = new Koa()
  // Answers POST /webhooks; every other request goes on to the routes below.
  app.use(webhooks)
  app.use((ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/contacts') ctx.body = [...contacts.values()]
    else if (ctx.method === 'GET' && ctx.path === '/messages') ctx.body = messages
  })

  return { app, webhooks: webhooks.webhooks, contacts, messages }
}

/**
 * Starts the app on a port (0 picks a free one) and resolves with its base URL and a close().
 *
 * @param {{ secret: string, port?: number, host?: string, log?: (line: string) => void }} options
 */
export function start({ secret, port = 0, host = '127.0.0.1', log }) {
  const built = createApp(secret, { log })
  return new Promise((resolve, reject) => {
    const server = built.app.listen(port, host, () => {
      const { port: actual } = server.address()
      resolve({
        ...built,
        url: `http://${host}:${actual}`,
        close: () => new Promise((done) => server.close(() => done())),
      })
    })
    server.on('error', reject)
  })
}
