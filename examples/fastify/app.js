import Fastify from 'fastify'
import { ecampusWebhooks } from '@ecampus-webhooks/fastify'

/**
 * A Fastify app that keeps a contact directory and a message log up to date from eCampus
 * webhooks, next to an ordinary JSON API.
 *
 * @param {string} secret the webhook secret from your eCampus settings
 * @param {{ log?: (line: string) => void }} [options]
 */
export async function createApp(secret, { log = console.log } = {}) {
  const contacts = new Map()
  const messages = []

  const app = Fastify()
  await app.register(ecampusWebhooks, { secret })
  const webhooks = app.ecampusWebhooks
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

  // The plugin's raw-body parser is scoped to its own route: this route still gets parsed JSON.
  app.get('/contacts', async () => [...contacts.values()])
  app.get('/messages', async () => messages)

  return { app, webhooks, contacts, messages }
}

/**
 * Starts the app on a port (0 picks a free one) and resolves with its base URL and a close().
 *
 * @param {{ secret: string, port?: number, host?: string, log?: (line: string) => void }} options
 */
export async function start({ secret, port = 0, host = '127.0.0.1', log }) {
  const built = await createApp(secret, { log })
  const address = await built.app.listen({ port, host })
  return { ...built, url: address, close: () => built.app.close() }
}
