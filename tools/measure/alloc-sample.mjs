// Where the writer allocates: V8's sampling heap profiler, counting objects the GC already
// collected too (what a cumulative allocation profile needs; --heap-prof keeps only survivors).
// Loads N random 16-byte keys with 100-byte values (commits of 1,000, or single puts), samples
// the second half, and prints the allocating functions by bytes (builtins by their caller).
// Run after `npm run build`:
//   node tools/measure/alloc-sample.mjs [N=300000] [batch|single]
// DIST=<path to another build's dist/index.js> measures that build instead.
import { Session } from 'node:inspector'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'

const { open } = await import(process.env.DIST ?? '../../dist/index.js')
const N = Number(process.argv[2] ?? 300_000)
const mode = process.argv[3] ?? 'batch'
const session = new Session()
session.connect()
const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))))

const keys = Array.from({ length: N }, () => randomBytes(16))
const value = randomBytes(100)
const dir = mkdtempSync(join(tmpdir(), 'cambium-alloc-'))
const db = open(join(dir, 'db.cambium'), { durability: 'none' })
function load(from, to) {
  if (mode === 'single') for (let i = from; i < to; i++) db.put(keys[i], value)
  else for (let i = from; i < to; i += 1000) db.batch(keys.slice(i, Math.min(to, i + 1000)).map((key) => ({ type: 'put', key, value })))
}
load(0, N / 2)
await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
load(N / 2, N)
const { profile } = await post('HeapProfiler.stopSampling')
db.close()
rmSync(dir, { recursive: true })

const bySite = new Map()
let total = 0
const name = (f) => `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
function walk(node, caller) {
  const own = name(node.callFrame)
  const site = node.callFrame.url === '' ? `${own} <- ${caller}` : own
  total += node.selfSize
  bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize)
  for (const c of node.children) walk(c, own)
}
walk(profile.head, '')
console.log(`sampled ${(total / 2 ** 20).toFixed(0)} MiB over ${N / 2} ${mode === 'single' ? 'single puts' : 'batched puts'} (${Math.round(total / (N / 2))} bytes per put)`)
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${((bytes / total) * 100).toFixed(1).padStart(5)}% ${(bytes / 2 ** 20).toFixed(0).padStart(5)} MiB  ${site}`)
}
