import { describe, expect, it, vi } from 'vitest'
import {
  ERROR_STATUS,
  Webhooks,
  WebhookError,
  createWebhooks,
  isWebhookError,
  sign,
} from '../src/index.js'
import { BODY, EVENT, SECRET } from './helpers.js'

const SIGNATURE = sign(BODY, SECRET)

describe('options', () => {
  it('has the documented defaults', () => {
    const hooks = new Webhooks({ secret: SECRET })
    expect(hooks.path).toBe('/webhooks')
    expect(hooks.maxBodySize).toBe(1024 * 1024)
    expect(hooks.bodyTimeout).toBe(30_000)
  })

  it('takes path, maxBodySize and bodyTimeout (0 disables the timer)', () => {
    const hooks = createWebhooks({
      secret: SECRET,
      path: '/hooks/ecampus',
      maxBodySize: 5,
      bodyTimeout: 0,
    })
    expect(hooks).toBeInstanceOf(Webhooks)
    expect(hooks).toMatchObject({ path: '/hooks/ecampus', maxBodySize: 5, bodyTimeout: 0 })
  })

  it.each([
    [{ path: 'webhooks' }, /path must start with "\/"/],
    [{ path: '' }, /path must start with "\/"/],
    [{ maxBodySize: 0 }, /maxBodySize must be a positive integer, got 0/],
    [{ maxBodySize: 1.5 }, /maxBodySize must be a positive integer/],
    [{ maxBodySize: '1mb' }, /maxBodySize must be a positive integer, got string/],
    [{ bodyTimeout: -1 }, /bodyTimeout must be a non-negative integer/],
    [{ bodyTimeout: Number.NaN }, /bodyTimeout must be a non-negative integer/],
  ])('rejects %j with a TypeError', (options, message) => {
    const make = (): unknown => new Webhooks({ secret: SECRET, ...(options as object) })
    expect(make).toThrow(TypeError)
    expect(make).toThrow(message)
  })
})

describe('matchesPath', () => {
  it.each([
    ['/webhooks', true],
    ['/webhooks/', true],
    ['/webhooks?x=1', true],
    ['/webhooks/?x=1', true],
    ['/webhooks/extra', false],
    ['/webhook', false],
    ['/', false],
    ['', false],
  ])('%j -> %s', (url, expected) => {
    expect(new Webhooks({ secret: SECRET }).matchesPath(url)).toBe(expected)
  })

  it('"/" matches the root and an empty path', () => {
    const root = new Webhooks({ secret: SECRET, path: '/' })
    expect(root.matchesPath('/')).toBe(true)
    expect(root.matchesPath('')).toBe(true)
    expect(root.matchesPath('/?a=b')).toBe(true)
    expect(root.matchesPath('/webhooks')).toBe(false)
  })
})

describe('verifyAndReceive', () => {
  it('verifies, parses and dispatches', async () => {
    const handler = vi.fn()
    const hooks = new Webhooks({ secret: SECRET }).on('message.created', handler)
    await hooks.verifyAndReceive({ rawBody: BODY, signature: SIGNATURE })
    await hooks.verifyAndReceive({
      rawBody: Buffer.from(BODY),
      signature: ` ${SIGNATURE.toUpperCase()}`,
    })
    expect(handler).toHaveBeenCalledTimes(2)
    expect(handler).toHaveBeenCalledWith(EVENT)
  })

  async function failure(
    rawBody: string,
    signature: unknown,
    hooks = new Webhooks({ secret: SECRET }),
  ) {
    const error = await hooks.verifyAndReceive({ rawBody, signature }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isWebhookError(error)).toBe(true)
    return error as WebhookError
  }

  it.each([undefined, null, '', '   ', '\n'])(
    'signature %j -> SIGNATURE_MISSING (as in handle())',
    async (signature) => {
      expect(await failure(BODY, signature)).toMatchObject({
        code: 'SIGNATURE_MISSING',
        status: 401,
      })
    },
  )

  it.each([
    ['wrong', sign(BODY, 'other')],
    ['array', [SIGNATURE, SIGNATURE]],
    ['malformed', 'abc'],
    ['number', 1],
  ])('signature %s -> SIGNATURE_INVALID', async (_name, signature) => {
    expect(await failure(BODY, signature)).toMatchObject({ code: 'SIGNATURE_INVALID', status: 401 })
  })

  it('checks the signature before parsing', async () => {
    expect((await failure('{not json', sign('{', SECRET))).code).toBe('SIGNATURE_INVALID')
    expect((await failure('{not json', sign('{not json', SECRET))).code).toBe('INVALID_JSON')
    expect((await failure('[]', sign('[]', SECRET))).code).toBe('INVALID_EVENT')
  })

  it('rejects with HANDLER_FAILED when a handler fails', async () => {
    const boom = new Error('boom')
    const hooks = new Webhooks({ secret: SECRET }).onAny(() => Promise.reject(boom))
    expect(await failure(BODY, SIGNATURE, hooks)).toMatchObject({
      code: 'HANDLER_FAILED',
      errors: [boom],
    })
  })
})

describe('WebhookError', () => {
  it('carries status, statusCode and expose from the one table', () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      const error = new WebhookError(code as keyof typeof ERROR_STATUS, 'm')
      expect(error).toBeInstanceOf(Error)
      expect(error).toMatchObject({
        name: 'WebhookError',
        code,
        status,
        statusCode: status,
        expose: status < 500,
      })
      expect(error.errors).toEqual([])
    }
  })

  it('isWebhookError also recognises one from another copy of the package', () => {
    const foreign = Object.assign(new Error('x'), {
      name: 'WebhookError',
      code: 'BODY_TOO_LARGE',
      status: 413,
    })
    expect(isWebhookError(foreign)).toBe(true)
    expect(isWebhookError(new Error('x'))).toBe(false)
    expect(isWebhookError({ name: 'WebhookError', code: 'X', status: 1 })).toBe(false)
    expect(isWebhookError(undefined)).toBe(false)
  })

  it('passes the cause through', () => {
    const cause = new Error('root')
    expect(new WebhookError('INTERNAL_ERROR', 'm', { cause }).cause).toBe(cause)
    expect(new WebhookError('INTERNAL_ERROR', 'm')).not.toHaveProperty('cause')
  })
})
