/**
 * compact() API edges: option validation (nothing written), state errors, empty and emptied
 * databases, policies past the latest version, progress reports, re-entrant calls from
 * onProgress, values larger than the copy buffer, and sparse histories over thousands of
 * versions (skip pointers across the gaps compaction leaves, before and after new commits).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { open, type CompactProgress } from '../../src/index.js'
import { SimFileIO } from '../helpers/sim-file-io.js'
import { expectCode, historyOf, policyKeeps, type Db } from './helpers.js'

const P = '/api/db.cambium'
const openSim = (sim: SimFileIO, extra: object = {}): Db => open(P, { fileIO: sim, keyEncoding: 'utf8', ...extra }) as Db
const B = (s: string): Buffer => Buffer.from(s)

describe('compact() options and states', () => {
  it('rejects bad options with a TypeError/RangeError before touching the disk', async () => {
    const sim = new SimFileIO()
    const db = openSim(sim)
    db.put('a', B('1'))
    const ops = sim.ops
    const bad: unknown[] = [
      { keep: 'none' },
      { keep: { since: -1 } },
      { keep: { since: 1.5 } },
      { keep: { since: new Date(Number.NaN) } },
      { keep: { every: 0 } },
      { keep: { every: -5 } },
      { keep: { since: 1, every: 2 } },
      { keep: {} },
      { keep: null },
      { onProgress: 'yes' },
    ]
    for (const o of bad) expect(() => db.compact(o as never), JSON.stringify(o)).toThrow(TypeError)
    expect(() => db.compact(null as never)).toThrow(TypeError)
    await expect(db.compactAsync({ sliceMs: 0 })).rejects.toThrow(RangeError)
    await expect(db.compactAsync({ sliceMs: Number.NaN })).rejects.toThrow(RangeError)
    expect(sim.ops).toBe(ops)
    expect(sim.listFiles()).toEqual([P])
    expect(db.compaction.running).toBe(false)
    expect(db.compact().versionsKept).toBe(1)
    db.close()
  })

  it('ERR_BUSY while a compaction runs, ERR_READ_ONLY on a reader, ERR_CLOSED after close, TypeError inside a transaction', async () => {
    const sim = new SimFileIO()
    const db = openSim(sim, { nodeSize: 512 })
    for (let v = 0; v < 20; v++) db.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: B(`${v}`.repeat(30)) })))
    const p = db.compactAsync({ keep: 'all', sliceMs: 0.01 })
    expect(db.compaction.running).toBe(true)
    expectCode(() => db.compact(), 'ERR_BUSY', 'compact() during compactAsync')
    await expect(db.compactAsync()).rejects.toMatchObject({ code: 'ERR_BUSY' })
    const r = await p
    expect(r.versionsKept).toBe(21)
    expect(db.compaction.running).toBe(false)
    expect(() => db.transaction(() => db.compact())).toThrow(TypeError)
    const ro = open(P, { fileIO: sim, readOnly: true })
    expectCode(() => ro.compact(), 'ERR_READ_ONLY', 'compact() on a reader')
    await expect(ro.compactAsync()).rejects.toMatchObject({ code: 'ERR_READ_ONLY' })
    ro.close()
    db.close()
    expectCode(() => db.compact(), 'ERR_CLOSED', 'compact() after close')
    expect(sim.listFiles()).toEqual([P])
  })

  it('an empty database, an emptied one, and policies past the latest version keep just the latest', () => {
    const sim = new SimFileIO()
    const db = openSim(sim)
    const r0 = db.compact({ keep: 'all' })
    expect([r0.versionsKept, r0.firstVersion, r0.lastVersion]).toEqual([1, 0, 0])
    expect(db.put('a', B('1'))).toBe(1)
    expect(db.delete('a')).toBe(2)
    const r1 = db.compact({ keep: 'all' })
    expect(r1.versionsKept).toBe(3)
    expect(db.checkout(1).get('a')).toEqual(B('1'))
    expect(db.count()).toBe(0)
    for (const keep of [{ since: 3 }, { since: 1_000_000 }, { since: new Date(Date.now() + 1e9) }]) {
      const r = db.compact({ keep })
      expect([r.versionsKept, r.lastVersion]).toEqual([1, 2])
      expect(historyOf(db).map((h) => h.version)).toEqual([2])
    }
    expectCode(() => db.checkout(1), 'ERR_VERSION_NOT_FOUND', 'checkout(1)')
    expectCode(() => db.rollback(1), 'ERR_VERSION_NOT_FOUND', 'rollback(1)')
    expect(db.rollback(2)).toBe(3)
    db.close()
    const db2 = openSim(sim)
    expect(historyOf(db2).map((h) => h.version)).toEqual([2, 3])
    expect(db2.count()).toBe(0)
    db2.close()
  })

  it('onProgress reports copy then final, counts that grow, and the final bytes of the file', () => {
    const sim = new SimFileIO()
    const db = openSim(sim, { nodeSize: 512 })
    for (let v = 0; v < 10; v++) db.batch(Array.from({ length: 500 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: B(`${v}:${i}`.repeat(20)) })))
    const seen: CompactProgress[] = []
    const r = db.compact({ keep: 'all', onProgress: (p) => seen.push({ ...p }) })
    expect(seen.length).toBeGreaterThan(0)
    expect(seen[0]!.phase).toBe('copy')
    expect(seen[seen.length - 1]!.phase).toBe('final')
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.versionsCopied).toBeGreaterThanOrEqual(seen[i - 1]!.versionsCopied)
      expect(seen[i]!.nodesCopied).toBeGreaterThanOrEqual(seen[i - 1]!.nodesCopied)
      expect(seen[i]!.bytesWritten).toBeGreaterThanOrEqual(seen[i - 1]!.bytesWritten)
    }
    const last = seen[seen.length - 1]!
    expect(last.versionsCopied).toBe(r.versionsKept)
    expect(last.bytesWritten).toBe(r.bytesAfter)
    expect(r.bytesAfter).toBe(sim.fileBytes(P).length)
    db.close()
  })

  it('values larger than the copy buffer (4 MiB) and the fsync interval (8 MiB)', () => {
    const sim = new SimFileIO()
    const db = open(P, { fileIO: sim })
    const big = Buffer.alloc(9 << 20)
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff
    db.put(B('big'), big)
    db.put(B('mid'), Buffer.alloc(5 << 20, 3))
    db.put(B('big'), Buffer.alloc(1, 1))
    const r = db.compact({ keep: 'all' })
    expect(r.versionsKept).toBe(4)
    expect(db.checkout(1).get(B('big'))!.equals(big)).toBe(true)
    db.close()
    const db2 = open(P, { fileIO: sim })
    expect(db2.checkout(2).get(B('big'))!.equals(big)).toBe(true)
    expect(db2.get(B('mid'))!.equals(Buffer.alloc(5 << 20, 3))).toBe(true)
    db2.compact({ keep: 'latest' })
    expect(sim.fileBytes(P).length).toBeLessThan((5 << 20) + 10_000)
    db2.close()
  })
})

describe('sparse histories over thousands of versions', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('every kept version is found (skip pointers across the gaps), also after thousands more commits and a reopen', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    let clock = Date.UTC(2031, 5, 1)
    vi.setSystemTime(clock)
    const sim = new SimFileIO()
    let db = openSim(sim, { durability: 'none' })
    const N = 4000
    for (let v = 1; v <= N; v++) {
      clock += v % 17 === 0 ? 900 : 7
      vi.setSystemTime(clock)
      db.put('c', B(String(v)))
    }
    const check = (what: string, upTo: number): void => {
      const kept = new Set(historyOf(db).map((h) => h.version))
      for (let v = 0; v <= upTo; v++) {
        if (kept.has(v)) {
          const got = db.checkout(v).get('c')
          if (v === 0 ? got !== undefined : got?.toString() !== String(v)) throw new Error(`${what}: checkout(${v}).get('c') is ${got?.toString()}`)
        } else expectCode(() => db.checkout(v), 'ERR_VERSION_NOT_FOUND', `${what}: checkout(${v})`)
      }
    }
    const hist = historyOf(db)
    const keep = { every: 1000 }
    const want = policyKeeps(hist, keep)
    const r = db.compact({ keep })
    expect(r.versionsKept).toBe(want.length)
    expect(historyOf(db).map((h) => h.version)).toEqual(want)
    expect(want.length).toBeGreaterThan(100)
    expect(want.length).toBeLessThan(1000)
    check('after compaction', N)
    // Thousands more commits on the compacted file: their skip pointers reach over the gaps.
    for (let v = N + 1; v <= N + 3000; v++) db.put('c', B(String(v)))
    check('after more commits', N + 3000)
    db.close()
    db = openSim(sim, { durability: 'none' })
    check('reopened', N + 3000)
    // And a second compaction of a file that already has gaps.
    const r2 = db.compact({ keep: { since: 3333 } })
    expect(r2.firstVersion).toBe(want.find((v) => v >= 3333))
    check('second compaction', N + 3000)
    db.close()
  })
})
