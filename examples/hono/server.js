import { start } from './app.js'

const secret = process.env.ECAMPUS_WEBHOOK_SECRET
if (!secret) {
  console.error('Set ECAMPUS_WEBHOOK_SECRET to your eCampus webhook secret, e.g.')
  console.error('  ECAMPUS_WEBHOOK_SECRET=dev-secret pnpm --filter example-hono start')
  process.exit(1)
}

const { url } = await start({
  secret,
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
})
console.log(`Hono example listening: POST eCampus webhooks to ${url}/webhooks`)
console.log(`Messages so far: ${url}/messages`)
