/**
 * Regression tests for bugs the model-based tests found (test/model/model.test.ts). Each
 * keeps the minimal reproduction, and where the bug came from a shrunk counterexample, that
 * counterexample replayed through the harness with the matching workaround switched off.
 * The workarounds live in known-bugs.ts; set a flag to false once its bug is fixed.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CambiumError, open, type Database } from '../../src/index.js'
import { runCase } from './harness.js'
import { KNOWN_BUGS } from './known-bugs.js'
import type { Op, RunConfig } from './ops.js'

let dir: string
let n = 0
const opened: Database[] = []

function fresh(): { db: Database; file: string } {
  const file = path.join(dir, `r${++n}.cambium`)
  const db = open(file, { durability: 'none' })
  opened.push(db)
  return { db, file }
}

/** Runs `fn` with one workaround switched off (this file runs in its own process). */
async function without(flag: keyof typeof KNOWN_BUGS, fn: () => Promise<unknown>): Promise<void> {
  const saved = KNOWN_BUGS[flag]
  KNOWN_BUGS[flag] = false
  try {
    await fn()
  } finally {
    KNOWN_BUGS[flag] = saved
  }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-model-reg-'))
})
afterEach(() => {
  for (const db of opened.splice(0)) db.close()
})
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('model-based test regressions', () => {
  // BUG-1 (found by 'deep trees', seed -1550141737): prefixEnd() in src/db/range-options.ts
  // builds the upper bound with `p.slice(0, i + 1)` and increments its last byte; for a Buffer
  // prefix, Buffer#slice is a view, so this increments the caller's buffer AND the lower bound
  // (same memory): lower == upper, and the range is empty.
  it('BUG-1: a Buffer prefix selects the keys that start with it, and is not modified', () => {
    const { db } = fresh()
    db.put(Buffer.from([0x00]), Buffer.from([0x00]))
    db.put('key1', 'v1')
    const p0 = Buffer.from([0x00])
    expect([...db.keys({ prefix: p0 })]).toEqual([Buffer.from([0x00])])
    expect(p0).toEqual(Buffer.from([0x00])) // was <01>
    const pk = Buffer.from('key')
    expect(db.count({ prefix: pk })).toBe(1)
    expect(pk.toString()).toBe('key') // was 'kez'
    expect([...db.range({ prefix: Buffer.from('key') })].map(([k]) => k.toString())).toEqual(['key1'])
    db.transaction((tx) => {
      expect([...tx.values({ prefix: Buffer.from([0x00]) })]).toEqual([Buffer.from([0x00])])
    })
  })

  it('BUG-1: the shrunk counterexample, replayed with Buffer prefixes', async () => {
    const cfg: RunConfig = { nodeSize: 512, durability: 'full', cacheSize: null, u8: false, scribble: false, autoCompact: null }
    const ops: Op[] = [
      { t: 'batch', ops: [{ t: 'put', key: { k: '00' }, val: { len: 1, fill: 0 } }] },
      { t: 'tx', ops: [{ t: 'read', api: 'range', range: { prefix: { k: '00' } } }], throwAt: null },
    ]
    await without('prefixBufferMutated', () => runCase(dir, cfg, ops))
  })

  // BUG-2: own() in src/db/encoding.ts ("copies the caller's bytes so later changes to their
  // buffer cannot reach the tree") is `b.slice()`, which for a Buffer is a view, not a copy. The
  // tree nodes (and, after the commit, the node cache) keep the caller's Buffers: changing the
  // key or value buffer after put()/batch()/tx.put() changes what the database returns, until
  // the node leaves the cache (the file itself is right: a reopen shows the true data).
  it('BUG-2: changing a key/value Buffer after put() does not change the database', () => {
    const { db } = fresh()
    const k = Buffer.from('key1')
    const v = Buffer.from('value1')
    db.put(k, v)
    k.fill(0x7a)
    v.fill(0x7a)
    expect([...db.keys()].map(String)).toEqual(['key1']) // was ['zzzz']
    expect(db.get('key1')?.toString()).toBe('value1') // was undefined
  })

  it('BUG-2: ... nor after batch() or tx.put()', () => {
    const { db } = fresh()
    const bk = Buffer.from('b1')
    const bv = Buffer.from('bv')
    db.batch([{ type: 'put', key: bk, value: bv }])
    bk.fill(0x30)
    bv.fill(0x30)
    const tk = Buffer.from('t1')
    const tv = Buffer.from('tv')
    db.transaction((tx) => {
      tx.put(tk, tv)
      tk.fill(0x31)
      tv.fill(0x31)
      expect(tx.get('t1')?.toString()).toBe('tv')
    })
    expect([...db.range()].map(([k, v]) => `${k}=${v}`)).toEqual(['b1=bv', 't1=tv'])
  })

  it('BUG-2: a shrunk-style op sequence in a scribble run (every written Buffer overwritten after the call)', async () => {
    const cfg: RunConfig = { nodeSize: 1024, durability: 'none', cacheSize: null, u8: false, scribble: true, autoCompact: null }
    const ops: Op[] = [
      { t: 'put', key: { k: '61' }, val: { len: 3, fill: 1 } },
      { t: 'get', key: { k: '61' } },
    ]
    await without('writeArgsAliased', () => runCase(dir, cfg, ops))
  })

  // BUG-3: range()/keys()/values() document "as of the moment of this call", and the tree is
  // indeed pinned at the call; but the bounds are the caller's buffers, read lazily from the
  // first next() on (parseRange keeps them; entries() seeks and compares with them). Changing
  // a bound buffer between the call and the iteration changes what the iterator yields.
  it('BUG-3: an iterator keeps the bounds it was called with', () => {
    const { db } = fresh()
    db.batch(['a', 'b', 'c', 'd'].map((k) => ({ type: 'put' as const, key: k, value: k })))
    const lo = new Uint8Array([0x62]) // 'b'
    const it = db.keys({ gte: lo })
    lo[0] = 0x64 // 'd'
    expect([...it].map(String)).toEqual(['b', 'c', 'd']) // was ['d']
  })

  it('BUG-3: the same through the harness (bounds overwritten right after the call)', async () => {
    const cfg: RunConfig = { nodeSize: 512, durability: 'none', cacheSize: null, u8: true, scribble: true, autoCompact: null }
    const ops: Op[] = [
      { t: 'put', key: { k: '62' }, val: { len: 1, fill: 0 } },
      { t: 'iter', api: 'keys', range: { gte: { k: '61' } }, take: 0, writes: [] },
    ]
    await without('iteratorBoundsAliased', () => runCase(dir, cfg, ops))
  })

  // BUG-4 (minor): db.close() inside a transaction callback that wrote: the commit then runs on
  // the closed handle and fails with ERR_IO ("read at 64 failed (EBADF)", or a poisoned store
  // when the commit log read hits the cache) instead of ERR_CLOSED.
  it('BUG-4: closing the database inside a transaction callback gives ERR_CLOSED, and nothing is committed', () => {
    const { db, file } = fresh()
    db.put('k', 'v')
    let err: unknown
    try {
      db.transaction((tx) => {
        tx.put('a', '1')
        db.close()
      })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(CambiumError)
    expect((err as CambiumError).code).toBe('ERR_CLOSED') // was ERR_IO
    const db2 = open(file, { durability: 'none' })
    opened.push(db2)
    expect(db2.version).toBe(1)
    expect(db2.get('a')).toBeUndefined()
  })
})
