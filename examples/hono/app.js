import { Hono } from 'hono'
import { serve } from '@hono/node-server'
import { Webhooks, toFetchHandler } from '@ecampus-webhooks/core/web'

/**
 * A Hono app that keeps a message log from eCampus webhooks, next to an ordinary JSON API. It uses
 * the web entry (Web Crypto, no node: module), so the same app runs on Bun, Deno or Workers.
 *
 * @param {string} secret the webhook secret from your eCampus settings
 * @param {{ log?: (line: string) => void }} [options]
 */
export function createApp(secret, { log = console.log } = {}) {
  const messages = []
  const webhooks = new Webhooks({ secret })
  webhooks.on('message.created', (event) => {
    messages.push(event.payload)
    log(`new message from @${event.payload.contact.username}: ${event.payload.message}`)
  })
  webhooks.onAny((event) => log(`received ${event.type} ${event.id}`))
  webhooks.onError((error, event) => log(`handlers failed for ${event.id}: ${error.message}`))

  const app = new Hono()
  const handler = toFetchHandler(webhooks)
  // c.req.raw is the untouched Request: the handler reads its body itself, so nothing
  // (c.req.json(), a validator) may read it first. all(): other methods get 405 from the handler.
  app.all('/webhooks', (c) => handler(c.req.raw))
  app.get('/messages', (c) => c.json(messages))

  return { app, webhooks, messages }
}

/**
 * Serves the app on Node with @hono/node-server (port 0 picks a free one) and resolves with its
 * base URL and a close().
 *
 * @param {{ secret: string, port?: number, host?: string, log?: (line: string) => void }} options
 */
export function start({ secret, port = 0, host = '127.0.0.1', log }) {
  const built = createApp(secret, { log })
  return new Promise((resolve) => {
    const server = serve({ fetch: built.app.fetch, port, hostname: host }, (info) => {
      resolve({
        ...built,
        url: `http://${host}:${info.port}`,
        close: () =>
          new Promise((done) => {
            server.close(() => done())
            server.closeAllConnections()
          }),
      })
    })
  })
}
