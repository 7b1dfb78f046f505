import { fileURLToPath } from 'node:url'
import vm from 'node:vm'
import { build, type BuildOptions } from 'esbuild'
import { beforeAll, describe, expect, it } from 'vitest'
import { sign as nodeSign } from '../src/index.js'
import { BODY, EVENT, SECRET } from './helpers.js'

const ENTRY = fileURLToPath(new URL('../src/web.ts', import.meta.url))

/** The globals of an edge runtime (Workers, Deno, Vercel Edge): Web APIs, no Buffer or process. */
function edgeGlobals(): Record<string, unknown> {
  return {
    Request,
    Response,
    Headers,
    ReadableStream,
    TextEncoder,
    TextDecoder,
    crypto,
    setTimeout,
    clearTimeout,
    queueMicrotask,
    console,
    URL,
  }
}

interface WebEntry {
  Webhooks: new (options: { secret: string }) => {
    onAny(handler: (event: unknown) => void): unknown
  }
  toFetchHandler(webhooks: unknown): (request: Request) => Promise<Response>
  sign(payload: string, secret: string): Promise<string>
}

describe('the web entry bundles for a neutral platform', () => {
  // platform 'neutral': no Node built-ins are known, so any node: import fails the build.
  const options: BuildOptions = {
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'neutral',
    write: false,
    metafile: true,
    logLevel: 'silent',
  }
  let esm: string
  let inputs: string[]

  beforeAll(async () => {
    const result = await build({ ...options, format: 'esm' })
    esm = result.outputFiles![0]!.text
    inputs = Object.keys(result.metafile!.inputs)
  })

  it('with no node: import and no require()', () => {
    expect(esm).not.toMatch(/["']node:/)
    expect(esm).not.toMatch(/\brequire\(/)
    // Not trivially empty: the shared pipeline and the Web Crypto platform are in it, node's not.
    expect(inputs.some((input) => input.endsWith('handle-webhook.ts'))).toBe(true)
    expect(inputs.some((input) => input.endsWith('web-platform.ts'))).toBe(true)
    expect(inputs.some((input) => input.endsWith('node-platform.ts'))).toBe(false)
  })

  it('and answers signed Requests in a context with only Web globals (no Buffer, no process)', async () => {
    // The same bundle as a script, run in its own realm whose globals are an edge runtime's.
    const iife = await build({ ...options, format: 'iife', globalName: 'ecampusWeb' })
    const context = vm.createContext(edgeGlobals())
    vm.runInContext(iife.outputFiles![0]!.text, context)
    expect(vm.runInContext('typeof Buffer + typeof process + typeof require', context)).toBe(
      'undefinedundefinedundefined',
    )
    const web = (context as { ecampusWeb: WebEntry }).ecampusWeb
    const webhooks = new web.Webhooks({ secret: SECRET })
    const seen: unknown[] = []
    webhooks.onAny((event) => {
      seen.push(event)
    })
    const handler = web.toFetchHandler(webhooks)
    const send = (body: string, signature: string): Promise<Response> =>
      handler(
        new Request('http://127.0.0.1/webhooks', {
          method: 'POST',
          body,
          headers: { 'x-ecampus-signature': signature },
        }),
      )
    const signature = await web.sign(BODY, SECRET)
    expect(signature).toBe(nodeSign(BODY, SECRET))
    const ok = await send(BODY, signature)
    expect(ok.status).toBe(200)
    expect(await ok.text()).toBe('{"ok":true}')
    expect((await send(`${BODY} `, signature)).status).toBe(401)
    expect(JSON.parse(JSON.stringify(seen))).toEqual([EVENT])
  })
})
