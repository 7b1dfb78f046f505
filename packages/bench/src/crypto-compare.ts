/**
 * node:crypto (createHmac + timingSafeEqual) against Web Crypto (crypto.subtle.verify with a
 * cached CryptoKey) for verifying one eCampus signature, at 1 KiB, 64 KiB and 1 MiB. Decides which
 * platform each entry of @ecampus-webhooks/core uses (issue 6).
 *
 * Run: pnpm --filter @ecampus-webhooks/bench exec tsx src/crypto-compare.ts [--quick]
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { Bench } from 'tinybench'

const quick = process.argv.includes('--quick')
const SECRET = 'whsec_crypto-compare-3b7e'
const SIZES = [
  ['1 KiB', 1024],
  ['64 KiB', 64 * 1024],
  ['1 MiB', 1024 * 1024],
] as const

const key = await crypto.subtle.importKey(
  'raw',
  new TextEncoder().encode(SECRET),
  { name: 'HMAC', hash: 'SHA-256' },
  false,
  ['verify'],
)

const rows: string[] = []
for (const [label, size] of SIZES) {
  const body = Buffer.alloc(size, 'x')
  const signature = createHmac('sha256', SECRET).update(body).digest()
  const bench = new Bench({ time: quick ? 200 : 1000, warmupTime: quick ? 50 : 200 })
  bench
    .add('node:crypto createHmac + timingSafeEqual', () => {
      const expected = createHmac('sha256', SECRET).update(body).digest()
      if (!timingSafeEqual(expected, signature)) throw new Error('mismatch')
    })
    .add('Web Crypto subtle.verify (cached key)', async () => {
      if (!(await crypto.subtle.verify('HMAC', key, signature, body))) throw new Error('mismatch')
    })
  await bench.run()
  const [node, web] = bench.tasks.map((task) => {
    const result = task.result as { latency?: { mean: number } } | undefined
    return result?.latency?.mean ?? Number.NaN
  })
  rows.push(
    `| ${label} | ${(node! * 1000).toFixed(2)} | ${(web! * 1000).toFixed(2)} | ${(web! / node!).toFixed(2)}x |`,
  )
}

console.log(`Node ${process.version}, ${quick ? 'quick' : 'full'} run; µs per verification (mean).`)
console.log('')
console.log('| body | node:crypto µs | Web Crypto µs | Web / node |')
console.log('| --- | --- | --- | --- |')
for (const row of rows) console.log(row)
