// Core figures for the engine issue: load N random-order keys (16-byte keys, 100-byte
// values) in commits of 1,000, N random gets, a full scan, file size and bytes appended
// per put, for durability 'none' and 'full'. Run after `npm run build`:
//   node tools/measure/core-figures.mjs [N=1000000] [durability=none,full]
// DIST=<path to another build's dist/index.js> measures that build instead (before/after runs).
const { open } = await import(process.env.DIST ?? '../../dist/index.js')
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'

const N = Number(process.argv[2] ?? 1_000_000)
const modes = (process.argv[3] ?? 'none,full').split(',')
const BATCH = 1000

function rate(n, ms) {
  return `${Math.round(n / (ms / 1000)).toLocaleString('en-US')}/s`
}

const keys = new Array(N)
for (let i = 0; i < N; i++) keys[i] = randomBytes(16)
const value = randomBytes(100)

for (const durability of modes) {
  const dir = mkdtempSync(join(tmpdir(), 'cambium-measure-'))
  const path = join(dir, 'db.cambium')
  let db = open(path, { durability })
  let t = performance.now()
  for (let i = 0; i < N; i += BATCH) {
    const ops = []
    for (let j = i; j < Math.min(N, i + BATCH); j++) ops.push({ type: 'put', key: keys[j], value })
    db.batch(ops)
  }
  const loadMs = performance.now() - t
  db.close()
  const size = statSync(path).size
  db = open(path, { durability })
  t = performance.now()
  let misses = 0
  for (let i = 0; i < N; i++) {
    const k = keys[(Math.random() * N) | 0]
    if (db.get(k) === undefined) misses++
  }
  const getMs = performance.now() - t
  t = performance.now()
  let n = 0
  for (const _ of db.range()) n++
  const scanMs = performance.now() - t
  const rss = process.memoryUsage().rss
  db.close()
  console.log(
    `durability=${durability} N=${N}: load ${loadMs.toFixed(0)} ms (${rate(N, loadMs)}); ` +
      `gets ${getMs.toFixed(0)} ms (${rate(N, getMs)}, misses ${misses}); ` +
      `scan ${scanMs.toFixed(0)} ms (${rate(n, scanMs)}, ${n} entries); ` +
      `file ${(size / 2 ** 20).toFixed(1)} MiB, ${(size / N).toFixed(0)} bytes appended per put; rss ${(rss / 2 ** 20).toFixed(0)} MiB`,
  )
  rmSync(dir, { recursive: true, force: true })
}
