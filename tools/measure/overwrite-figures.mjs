// W6-like: random overwrites, commits of 1,000, with autoCompact, on a copy of a loaded file
// (yielding to the event loop between commits, so the background compaction runs); reports
// the time in batch(), the wait for the compaction to finish, and the compaction's result
// (its longest pause is the longest the writer's thread was held). Run after `npm run build`:
//   FILE=<a file built by read-figures.mjs> node tools/measure/overwrite-figures.mjs [overwrites=200000]
// DIST=<path to another build's dist/index.js> measures that build instead.
import { copyFileSync, rmSync, statSync } from 'node:fs'
import { randomBytes } from 'node:crypto'

const { open } = await import(process.env.DIST ?? '../../dist/index.js')
const COUNT = Number(process.argv[2] ?? 200_000)
const source = process.env.FILE
if (source === undefined) throw new Error('FILE=<a file built by tools/measure/read-figures.mjs> is required')
const file = `${source}.overwrite-copy`
copyFileSync(source, file)

const keys = []
const reader = open(source, { readOnly: true })
for (const k of reader.keys({ limit: 200_000 })) keys.push(k)
reader.close()
const value = randomBytes(100)
const t = performance.now()
const db = open(file, { durability: 'none', autoCompact: true })
let inBatch = 0
for (let i = 0; i < COUNT; i += 1000) {
  const ops = []
  for (let j = 0; j < 1000; j++) ops.push({ type: 'put', key: keys[(Math.random() * keys.length) | 0], value })
  const t0 = performance.now()
  db.batch(ops)
  inBatch += performance.now() - t0
  await new Promise((resolve) => setImmediate(resolve))
}
const t1 = performance.now()
while (db.compaction.running) await new Promise((resolve) => setTimeout(resolve, 5))
const t2 = performance.now()
const r = db.compaction.lastResult
db.close()
const total = performance.now() - t
console.log(`${COUNT} overwrites: ${Math.round(COUNT / (total / 1000)).toLocaleString('en-US')}/s (${Math.round(total)} ms; ${Math.round(inBatch)} ms in batch(), ${Math.round(t2 - t1)} ms waiting for compaction)`)
if (r) console.log(`compaction: ${(r.bytesBefore / 2 ** 20).toFixed(0)} -> ${(r.bytesAfter / 2 ** 20).toFixed(0)} MiB in ${Math.round(r.ms)} ms, ${r.rounds} catch-up round(s), longest pause ${Math.round(r.longestPauseMs)} ms`)
else console.log(`no compaction ran (file ${(statSync(file).size / 2 ** 20).toFixed(0)} MiB)`)
rmSync(file)
