/**
 * Snapshots and iterators across compaction: what was taken before a compaction keeps reading
 * the old file (which stays open while they are alive), including versions the compaction
 * dropped; once they are gone (GC), the old file is closed at the next commit; close() ends all.
 *
 * GC: vitest has no --expose-gc; the GC parts use global.gc, or v8.setFlagsFromString +
 * vm.runInNewContext('gc') when that works, and are skipped otherwise.
 */
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { SimFileIO } from '../helpers/sim-file-io.js'
import { checkContents, collect, expectCode, getGc, historyOf, type Db } from './helpers.js'

const DB = '/snap/db.cambium'

const key = (i: number): string => `key/${String(i).padStart(5, '0')}`
const val = (i: number, gen: number): Buffer => Buffer.from(`v${i}.${gen}`.padEnd(i % 5 === 0 ? 400 : 20, '-'))

/** Versions 1..gens, each rewriting every key: gens full trees. */
function build(sim: SimFileIO, n: number, gens: number): { db: Db; versions: Map<string, Buffer>[] } {
  const db = open(DB, { fileIO: sim, keyEncoding: 'utf8', nodeSize: 512, durability: 'none' }) as Db
  const versions: Map<string, Buffer>[] = [new Map()]
  for (let g = 1; g <= gens; g++) {
    const m = new Map<string, Buffer>()
    const ops = []
    for (let i = 0; i < n; i++) {
      if ((i + g) % 11 === 0) continue
      m.set(key(i), val(i, g))
      ops.push({ type: 'put' as const, key: key(i), value: val(i, g) })
    }
    for (let i = 0; i < n; i++) if ((i + g) % 11 === 0) ops.push({ type: 'del' as const, key: key(i) } as never)
    expect(db.batch(ops)).toBe(g)
    versions.push(m)
  }
  return { db, versions }
}

describe('snapshots and iterators across compaction', () => {
  it('a snapshot, its iterator and half-consumed db iterators taken before compact() keep working after it (and after a second one)', () => {
    const sim = new SimFileIO({ powersafeOverwrite: true })
    const { db, versions } = build(sim, 2000, 4)
    const snap2 = db.checkout(2) // dropped by the compaction below
    const snap4 = db.checkout(4)
    const it2 = snap2.range()
    const itDb = db.range({ reverse: true })
    const keysDb = db.keys({ gte: key(500) })
    const want4 = [...versions[4]!].sort((a, b) => (a[0] < b[0] ? -1 : 1))
    const want2 = [...versions[2]!].sort((a, b) => (a[0] < b[0] ? -1 : 1))
    for (let i = 0; i < 700; i++) {
      expect(it2.next().value).toEqual(want2[i])
      expect(itDb.next().value).toEqual(want4[want4.length - 1 - i])
    }
    expect(keysDb.next().value).toBe(key(500))

    const r = db.compact({ keep: 'latest' })
    expect(r.versionsKept).toBe(1)
    expectCode(() => db.checkout(2), 'ERR_VERSION_NOT_FOUND', 'checkout(2) after compaction')
    // New commits on the new file (each commit also prunes retired files).
    for (let i = 0; i < 50; i++) db.put(key(i), Buffer.from('new'))
    const r2 = db.compact({ keep: 'all' })
    expect(r2.firstVersion).toBe(4)
    for (let i = 50; i < 60; i++) db.put(key(i), Buffer.from('newer'))

    // Everything taken before the first compaction still reads the old file.
    checkContents(snap2, versions[2]!, 'snapshot of dropped v2', [key(0), key(9), key(1999), 'zzz'])
    checkContents(snap4, versions[4]!, 'snapshot of v4', [key(0), key(55)])
    expect(snap2.version).toBe(2)
    for (let i = 700; i < want2.length; i++) expect(it2.next().value, `snapshot iterator item ${i}`).toEqual(want2[i])
    expect(it2.next().done).toBe(true)
    for (let i = 700; i < want4.length; i++) expect(itDb.next().value, `db iterator item ${i}`).toEqual(want4[want4.length - 1 - i])
    expect(itDb.next().done).toBe(true)
    expect([...keysDb].length).toBe(want4.filter(([k]) => k > key(500)).length)
    // A snapshot iterator created now, on the old snapshot, also works.
    expect([...snap2.keys({ limit: 3 })]).toEqual(want2.slice(0, 3).map(([k]) => k))
    expect(db.get(key(0))).toEqual(Buffer.from('new'))
    expect(db.get(key(55))).toEqual(Buffer.from('newer'))
    db.close()
    expectCode(() => snap2.get(key(1)), 'ERR_CLOSED', 'a snapshot after close()')
    expect(sim.openHandleCount, 'every file closed by close(), retired ones included').toBe(0)
  })

  it.runIf(getGc() !== undefined)('once the snapshots and iterators are collected, the old file is closed; nothing breaks', async () => {
    const sim = new SimFileIO({ powersafeOverwrite: true })
    const { db, versions } = build(sim, 1500, 3)
    let snap: ReturnType<Db['checkout']> | undefined = db.checkout(1)
    let iter: IterableIterator<[string, Buffer]> | undefined = db.range()
    iter.next()
    db.compact({ keep: 'latest' })
    db.compact({ keep: 'latest' })
    db.put('x', Buffer.from('1'))
    await collect()
    db.put('x', Buffer.from('2'))
    expect(sim.openHandleCount, 'the first file stays open while a snapshot or iterator can read it; the second closes at once').toBe(2)
    checkContents(snap, versions[1]!, 'snapshot v1 after two compactions')
    expect(iter.next().done).toBe(false)
    snap = undefined
    iter = undefined
    // GC and finalization timing is the VM's: give it a few rounds.
    for (let i = 0; i < 10 && sim.openHandleCount > 1; i++) await collect()
    db.put('x', Buffer.from('3'))
    expect(sim.openHandleCount, 'the old file is closed once nothing can read it').toBe(1)
    const want = new Map(versions[3]!)
    want.set('x', Buffer.from('3'))
    checkContents(db, want, 'latest')
    expect(historyOf(db).map((h) => h.version)).toEqual([3, 4, 5, 6])
    db.close()
    expect(sim.openHandleCount).toBe(0)
  })
})
