// Compaction figures for the compaction issue: a database of N keys (16-byte random keys,
// 100-byte values) grown by M random overwrites in commits of 1,000, then compacted
// (keep 'latest'): size before/after, seconds, MB/s; then an online compaction (compactAsync)
// while a writer commits every turn of the event loop: the longest pause the writer saw.
// Run after `npm run build`: node tools/measure/compaction-figures.mjs [N=1000000] [M=1000000]
import { open } from '../../dist/index.js'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'

const N = Number(process.argv[2] ?? 1_000_000)
const M = Number(process.argv[3] ?? 1_000_000)
const dir = mkdtempSync(join(tmpdir(), 'cambium-compact-'))
const path = join(dir, 'db.cambium')
const keys = Array.from({ length: N }, () => randomBytes(16))
const value = () => randomBytes(100)
const mib = (b) => (b / 2 ** 20).toFixed(1)

let db = open(path, { durability: 'none' })
for (let i = 0; i < N; i += 1000) db.batch(keys.slice(i, i + 1000).map((key) => ({ type: 'put', key, value: value() })))
for (let i = 0; i < M; i += 1000) {
  const ops = []
  for (let j = 0; j < 1000; j++) ops.push({ type: 'put', key: keys[(Math.random() * N) | 0], value: value() })
  db.batch(ops)
}
const grown = statSync(path).size
let r = db.compact()
console.log(
  `compact (keep latest) after ${N} keys + ${M} overwrites: ${mib(r.bytesBefore)} MiB -> ${mib(r.bytesAfter)} MiB ` +
    `in ${(r.ms / 1000).toFixed(2)} s (${mib(r.bytesBefore / (r.ms / 1000))} MB/s of file compacted, ${mib(r.bytesAfter / (r.ms / 1000))} MB/s written); file on disk ${mib(grown)} -> ${mib(statSync(path).size)} MiB`,
)

// Online: grow again a little, then compact while a writer commits on every turn.
for (let i = 0; i < 200_000; i += 1000) db.batch(keys.slice(i, i + 1000).map((key) => ({ type: 'put', key, value: value() })))
let writes = 0
let maxGap = 0
let last = performance.now()
let stop = false
const writer = (async () => {
  while (!stop) {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    db.put(keys[(Math.random() * N) | 0], value())
    writes++
    await new Promise((res) => setImmediate(res))
  }
})()
r = await db.compactAsync({ keep: 'latest' })
stop = true
await writer
console.log(
  `compactAsync (keep latest) with a concurrent writer: ${mib(r.bytesBefore)} -> ${mib(r.bytesAfter)} MiB in ${(r.ms / 1000).toFixed(2)} s, ` +
    `${r.rounds} catch-up rounds, ${writes} writer commits meanwhile; longest pause reported ${r.longestPauseMs.toFixed(1)} ms, ` +
    `longest gap between the writer's commits ${maxGap.toFixed(1)} ms`,
)
db.close()
rmSync(dir, { recursive: true, force: true })
