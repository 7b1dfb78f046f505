import { isWebhooks, toWebhooks } from '@ecampus-webhooks/core'
import type { BodyStream, Webhooks, WebhooksOptions } from '@ecampus-webhooks/core'
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  FastifyError,
  LogLevel,
} from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** The core `Webhooks` instance behind `@ecampus-webhooks/fastify`: register handlers on it. */
    ecampusWebhooks: Webhooks
  }
}

/** Register options Fastify ignores for a fastify-plugin plugin, so this plugin applies them. */
interface ScopeOptions {
  /**
   * Mounts the webhook route under this prefix: `{ prefix: '/ecampus' }` -> `/ecampus/webhooks`.
   * @default '' (the context the plugin is registered in)
   */
  prefix?: string
  /** Log level of the webhook route. @default the app's level */
  logLevel?: LogLevel
}

/**
 * Options of the plugin: the core's `WebhooksOptions` (`secret`, `path`, `maxBodySize`, ...), or an
 * existing `Webhooks` instance as `{ webhooks }`. `maxBodySize` defaults to the app's `bodyLimit`.
 */
export type EcampusWebhooksOptions = ScopeOptions &
  ((WebhooksOptions & { webhooks?: never }) | { webhooks: Webhooks; secret?: never })

// Fastify errors raised on the webhook route before its handler runs, about a Content-Type the core
// does not care about (the signature covers the bytes whatever the type): answer as the core would.
const CONTENT_TYPE_ERRORS = new Set([
  'FST_ERR_CTP_INVALID_MEDIA_TYPE',
  'FST_ERR_ROUTE_MISSING_CONTENT_TYPE',
])

const plugin: FastifyPluginAsync<EcampusWebhooksOptions> = async (fastify, options) => {
  const webhooks = webhooksFor(options, fastify.initialConfig.bodyLimit)
  fastify.decorate('ecampusWebhooks', webhooks)

  // fastify-plugin's skip-override shares this plugin's context with the app, so a content-type
  // parser added here would replace the app's JSON parser everywhere. The route and its parser live
  // in a child context instead; only the decorator above is shared.
  await fastify.register(
    (scope: FastifyInstance, _options, done) => {
      scope.removeAllContentTypeParsers()
      // Any type, and requests without one: the handler gets the untouched stream, so the core
      // enforces maxBodySize while reading and answers 413 in its own format. Fastify applies its
      // bodyLimit only to buffering (`parseAs`) parsers, never to this one.
      scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload))
      scope.setErrorHandler((error: FastifyError, request, reply) => {
        if (!CONTENT_TYPE_ERRORS.has(error.code)) throw error
        return handleRequest(webhooks, request, reply)
      })
      // Every method, so GET/PUT/... reach the core's 405 (with Allow: POST), not Fastify's 404.
      const handler = (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
        handleRequest(webhooks, request, reply)
      scope.all(webhooks.path, handler)
      // `/webhooks/` is the same path in every adapter (the core's matchesPath); Fastify already
      // treats it so when the app set ignoreTrailingSlash.
      const slashed = `${webhooks.path}/`
      if (
        !webhooks.path.endsWith('/') &&
        !scope.hasRoute({ method: 'POST', url: scope.prefix + slashed })
      ) {
        scope.all(slashed, handler)
      }
      done()
    },
    { prefix: options.prefix, logLevel: options.logLevel },
  )
}

async function handleRequest(
  webhooks: Webhooks,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const response = await webhooks.handle({
    method: request.method,
    headers: request.headers,
    // Fastify skips parsing for a request with no Content-Type and no body; read it from the socket.
    body: (request.body as BodyStream | undefined) ?? request.raw,
    framework: 'fastify',
  })
  const { error } = response
  if (error !== undefined) {
    // The core's errors never hold the secret or the expected signature.
    const log = { code: error.code, statusCode: response.status }
    if (response.status >= 500) {
      request.log.error({ ...log, err: error }, `eCampus webhook failed: ${error.message}`)
    } else {
      request.log.info(log, `eCampus webhook rejected: ${error.message}`)
    }
  }
  // A handlerTimeout may have answered already; a second reply would only log a warning.
  if (reply.sent) return reply
  // `connection: close` from the core (body left unread) is honoured by Node's response.
  return reply.code(response.status).headers(response.headers).send(response.body)
}

function webhooksFor(options: EcampusWebhooksOptions, bodyLimit: number | undefined): Webhooks {
  const owner = '@ecampus-webhooks/fastify'
  if (options.webhooks === undefined) {
    // The core ignores the register options (prefix, logLevel) it does not know.
    return toWebhooks({ ...options, maxBodySize: options.maxBodySize ?? bodyLimit }, owner)
  }
  if (!isWebhooks(options.webhooks)) {
    throw new TypeError(
      `${owner}: \`webhooks\` must be a Webhooks instance from @ecampus-webhooks/core.`,
    )
  }
  if ('secret' in options) {
    throw new TypeError(
      `${owner}: pass either { webhooks } or { secret, ... }, not both: the instance already has its secret.`,
    )
  }
  return options.webhooks
}

/**
 * The Fastify plugin: decorates the app with `ecampusWebhooks` (the core `Webhooks` instance) and
 * answers `path` (default `/webhooks`, under `prefix`) with a raw-body route in its own context, so
 * the app's other routes keep Fastify's JSON parser.
 *
 * @example
 * import Fastify from 'fastify'
 * import { ecampusWebhooks } from '@ecampus-webhooks/fastify'
 *
 * const app = Fastify({ logger: true })
 * await app.register(ecampusWebhooks, { secret: process.env.ECAMPUS_WEBHOOK_SECRET! })
 * app.ecampusWebhooks.on('message.created', async (event) => {
 *   app.log.info({ id: event.id }, `${event.payload.contact.username} wrote`)
 * })
 * await app.listen({ port: 3000 })
 */
export const ecampusWebhooks = fp(plugin, { name: '@ecampus-webhooks/fastify', fastify: '5.x' })
