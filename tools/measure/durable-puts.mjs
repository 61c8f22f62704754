// Durable single-put commits with and without the `preallocate` reserve (FORMAT.md §8),
// next to the machine's ceiling (2 KiB appends + fdatasync, as fsync-rate.mjs). Rounds of
// each setting are interleaved, since the fsync rate of a shared virtual disk drifts.
// Run after `npm run build`:
//   node tools/measure/durable-puts.mjs [rounds=6] [putsPerRound=1000] [dir=os.tmpdir()]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { open } from '../../dist/index.js'

const ROUNDS = Number(process.argv[2] ?? 6)
const PUTS = Number(process.argv[3] ?? 1000)
const base = mkdtempSync(join(process.argv[4] ?? tmpdir(), 'cambium-durable-'))
const value = randomBytes(100)

function puts(preallocate) {
  const dir = mkdtempSync(join(base, 'db-'))
  const db = open(join(dir, 'db.cambium'), { durability: 'full', preallocate })
  const keys = Array.from({ length: PUTS }, () => randomBytes(16))
  const t = performance.now()
  for (const k of keys) db.put(k, value)
  const rate = PUTS / ((performance.now() - t) / 1000)
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return rate
}

function appends() {
  const fd = openSync(join(base, 'appends'), 'w')
  const block = Buffer.alloc(2048, 7)
  const t = performance.now()
  for (let i = 0; i < PUTS; i++) {
    writeSync(fd, block)
    fdatasyncSync(fd)
  }
  closeSync(fd)
  return PUTS / ((performance.now() - t) / 1000)
}

const runs = { off: [], on: [], ceiling: [] }
for (let r = 0; r < ROUNDS; r++) {
  runs.off.push(puts(0))
  runs.on.push(puts(1 << 20))
  runs.ceiling.push(appends())
}
rmSync(base, { recursive: true, force: true })
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1]
const fmt = (x) => Math.round(x).toLocaleString('en-US')
for (const [name, label] of [['off', 'preallocate 0 (default)'], ['on', 'preallocate 1 MiB'], ['ceiling', 'append 2 KiB + fdatasync']]) {
  console.log(`${label.padEnd(26)} median ${fmt(median(runs[name]))}/s   rounds: ${runs[name].map(fmt).join(' ')}`)
}
console.log(`preallocate 1 MiB / 0: ${(median(runs.on) / median(runs.off)).toFixed(2)}x; vs the append ceiling: ${(median(runs.on) / median(runs.ceiling)).toFixed(2)}x`)
