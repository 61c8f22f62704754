/**
 * The engine's helper threads (background fdatasync, read-ahead, compaction copy) run code
 * of their own, which needs none of the parent's command-line flags. A worker inherits them
 * by default, and some break it: under `node --input-type=module -e ...` an eval'd worker is
 * compiled as an ES module (so `require` is missing) and a file worker refuses to start.
 * Before the workers stopped inheriting flags, the writer below waited 10 minutes for a
 * background fdatasync that never ran and then failed with ERR_IO.
 */
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { useTempDir } from './child.js'

let dir = ''
useTempDir('cambium-flags-', (d) => (dir = d))

const dist = pathToFileURL(path.resolve(import.meta.dirname, '../../dist/index.js')).href

/** Loads more than half a recovery window (so a background fdatasync runs), scans it (reads
 *  ahead), compacts on the worker thread, commits durably, and checks what it reads back. */
const script = (file: string): string => `
import { open } from ${JSON.stringify(dist)}
const db = open(${JSON.stringify(file)}, { durability: 'none', cacheSize: 1 << 20 })
const value = Buffer.alloc(200, 7)
for (let b = 0; b < 60; b++) {
  const ops = []
  for (let i = 0; i < 1000; i++) ops.push({ type: 'put', key: 'k' + String(b * 1000 + i).padStart(6, '0'), value })
  db.batch(ops)
}
let n = 0
for (const _ of db.range()) n++
const r = await db.compactAsync()
db.close()
const d2 = open(${JSON.stringify(file)}, { durability: 'full' })
d2.put('last', 'x')
console.log(JSON.stringify({ n, thread: r.thread, count: d2.count(), last: d2.get('last')?.toString() }))
d2.close()
`

describe('helper threads under parent flags that would break them', () => {
  it('node --input-type=module -e: loads, scans, compacts on the worker and commits', () => {
    const file = path.join(dir, 'flags.cambium')
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(file)], { encoding: 'utf8', timeout: 120_000 })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout.trim())).toEqual({ n: 60_000, thread: true, count: 60_001, last: 'x' })
  }, 150_000)
})
