/**
 * Reading ahead on a worker thread (src/io/read-thread.ts, Store.readAhead), used by range
 * walks (btree/read.ts Cursor) and by compaction (db/compactor.ts) on the real file layer:
 *   - the read thread itself: a batch's bytes are the file's, an offset not in the current
 *     batch (or one of a batch replaced since) is not served, a read past the end is short,
 *     and nothing is served after stop();
 *   - walks and compaction over a tree of thousands of uncached leaves, forward, in reverse
 *     and from random starts, interleaved with commits, give what a sorted model says and
 *     are served from the read-ahead (a record served wrong would fail its checksum:
 *     ERR_CORRUPT).
 * The simulated file layer has no read helper, so the model tests walk without it.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { ReadThread } from '../../src/io/read-thread.js'
import { Rng } from '../helpers/rng.js'

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-readthread-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Polls take() until the worker has read `offset` (it never makes the caller wait). */
async function taken(t: ReadThread, offset: number): Promise<Uint8Array> {
  for (let i = 0; i < 2000; i++) {
    const b = t.take(offset)
    if (b !== undefined) return b
    await new Promise((r) => setTimeout(r, 2))
  }
  throw new Error(`offset ${offset} was never read`)
}

describe('read thread', () => {
  it("serves a batch's bytes as the file holds them, only for the current batch, and nothing after stop()", async () => {
    const file = path.join(dir, 'plain')
    const content = Buffer.alloc(1 << 20)
    for (let i = 0; i < content.length; i++) content[i] = (i * 7 + (i >>> 10)) & 0xff
    fs.writeFileSync(file, content)
    const fd = fs.openSync(file, 'r')
    const t = new ReadThread(fd)
    try {
      const offsets = [5000, 100, 700_000, content.length - 10]
      const lengths = [300, 4096, 1000, 100]
      t.post(offsets, lengths)
      for (let i = 0; i < offsets.length; i++) {
        const b = await taken(t, offsets[i]!)
        const want = content.subarray(offsets[i]!, Math.min(content.length, offsets[i]! + lengths[i]!))
        expect(Buffer.from(b).equals(want), `offset ${offsets[i]}`).toBe(true)
      }
      expect(t.take(12345)).toBeUndefined()
      // A new batch replaces the old one (twice, so both areas are reused).
      t.post([200_000], [64])
      t.post([300_000], [64])
      expect(Buffer.from(await taken(t, 300_000)).equals(content.subarray(300_000, 300_064))).toBe(true)
      expect(t.take(5000)).toBeUndefined()
      expect(t.take(200_000)).toBeUndefined()
      expect(t.taken).toBe(5)
    } finally {
      t.stop()
      fs.closeSync(fd)
    }
    t.post([100], [10])
    expect(t.take(100)).toBeUndefined()
  })

  it('walks and compaction read ahead and see exactly the tree, also between commits', () => {
    const file = path.join(dir, 'tree.cambium')
    const rng = new Rng(5)
    const model = new Map<string, Buffer>()
    // Small nodes and a small cache: thousands of leaves, most of them read from the file.
    let db = open(file, { durability: 'none', nodeSize: 512, cacheSize: 256 << 10 })
    const put = (n: number): void => {
      const ops = []
      for (let i = 0; i < n; i++) {
        const key = Buffer.from(rng.bytes(8)).toString('hex')
        const value = Buffer.alloc(20 + (rng.int(300) === 0 ? 400 : rng.int(60)), rng.int(256))
        model.set(key, value)
        ops.push({ type: 'put' as const, key: Buffer.from(key), value })
      }
      db.batch(ops)
    }
    for (let c = 0; c < 30; c++) put(1000)
    const sorted = (): string[] => [...model.keys()].sort()
    const check = (): void => {
      const keys = sorted()
      const entries = [...db.range()]
      expect(entries.map(([k]) => k.toString())).toEqual(keys)
      expect(entries.filter(([k, v]) => !v.equals(model.get(k.toString())!)).length).toBe(0)
      expect([...db.range({ reverse: true })].map(([k]) => k.toString())).toEqual(keys.slice().reverse())
      for (let s = 0; s < 50; s++) {
        const from = rng.int(keys.length)
        const got = [...db.range({ gte: Buffer.from(keys[from]!), limit: 300 })].map(([k]) => k.toString())
        expect(got).toEqual(keys.slice(from, from + 300))
      }
    }
    check()
    // A walk interleaved with commits keeps to the version it started on.
    const before = sorted()
    const it = db.range()[Symbol.iterator]()
    const seen: string[] = []
    for (let r = it.next(); !r.done; r = it.next()) {
      seen.push(r.value[0].toString())
      if (seen.length % 5000 === 0) put(500)
    }
    expect(seen).toEqual(before)
    check()
    const helper = db.internals.store.handle.readHelper!()!
    const servedByWalks = helper.taken
    expect(servedByWalks).toBeGreaterThan(1000)
    db.compact()
    expect(helper.taken).toBeGreaterThan(servedByWalks + 1000) // compaction's reads too
    check()
    db.close()
    db = open(file, { durability: 'none', cacheSize: 256 << 10 })
    check()
    db.close()
  }, 60_000)
})
