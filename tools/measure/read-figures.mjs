// Read figures on a loaded file, W2/W3-like: random gets with the default cache (cold) and
// with a cache bigger than the file (warm, after a first pass), one full scan and 10,000 short
// scans of 50 (default cache, fresh handle). Builds the file first (N random 16-byte keys,
// 100-byte values, commits of 1,000) unless FILE= names one built by this script before.
// Run after `npm run build`:
//   node tools/measure/read-figures.mjs [N=1000000]
// DIST=<path to another build's dist/index.js> measures that build instead (before/after runs:
// build the file once, then pass FILE= to both).
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeKeys } from '../bench/lib/data.mjs'

const { open } = await import(process.env.DIST ?? '../../dist/index.js')
const N = Number(process.argv[2] ?? 1_000_000)

const keys = makeKeys(N, 7) // the benchmark's generator: fixed seeds, so a file built once serves later runs
const rate = (n, ms) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')}/s`

let file = process.env.FILE
if (file === undefined || !existsSync(file)) {
  file ??= join(mkdtempSync(join(tmpdir(), 'cambium-reads-')), 'db.cambium')
  const db = open(file, { durability: 'none' })
  const value = Buffer.alloc(100, 1)
  for (let i = 0; i < N; i += 1000) db.batch(keys.slice(i, i + 1000).map((key) => ({ type: 'put', key, value })))
  db.close()
  console.log(`built ${file} (pass FILE=${file} to reuse it)`)
}

function gets(cacheSize) {
  const db = open(file, { readOnly: true, ...(cacheSize !== undefined && { cacheSize }) })
  const order = (i) => keys[(i * 7919) % N]
  if (cacheSize !== undefined) for (let i = 0; i < N; i++) db.get(order(i))
  const t = performance.now()
  let hits = 0
  for (let i = 0; i < N; i++) if (db.get(order(i)) !== undefined) hits++
  const ms = performance.now() - t
  db.close()
  if (hits !== N) throw new Error(`found ${hits} of ${N} keys`)
  return ms
}
console.log(`gets, default cache (cold): ${rate(N, gets(undefined))}`)
console.log(`gets, 4 GiB cache (warm):   ${rate(N, gets(4 * 2 ** 30))}`)

const db = open(file, { readOnly: true })
let t = performance.now()
let n = 0
for (const _ of db.range()) n++
console.log(`full scan:                  ${rate(n, performance.now() - t)} entries`)
const starts = makeKeys(10_000, 99)
t = performance.now()
n = 0
for (const s of starts) for (const _ of db.range({ gte: s, limit: 50 })) n++
console.log(`short scans of 50:          ${rate(starts.length, performance.now() - t)} (${(n / starts.length).toFixed(1)} entries each)`)
db.close()
