/**
 * The `preallocate` option (FORMAT.md §8, "Reserve"): a durable small commit that would grow
 * the file writes zeros after itself, later commits overwrite them, close cuts them, and a
 * file left with them (a writer that died) opens at its last commit. Crash and double-crash
 * sweeps with the option on live in test/fault/crash-sweep.test.ts.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkDatabase } from '../../src/check/index.js'
import { COMMIT_RECORD_SIZE } from '../../src/format/constants.js'
import { open, type Database } from '../../src/index.js'
import { SimFileIO } from '../helpers/sim-file-io.js'

const dir = mkdtempSync(join(tmpdir(), 'cambium-prealloc-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const tmp = (): string => join(dir, `db-${++n}.cambium`)
const KIB = 1024
const endOf = (db: Database<string, Buffer>): number => db.internals.head.offset + COMMIT_RECORD_SIZE
const zerosFrom = (path: string, from: number): boolean => readFileSync(path).subarray(from).every((b) => b === 0)

describe('preallocate', () => {
  it('a small durable commit reserves zeros, the next ones overwrite them, close cuts them', () => {
    const p = tmp()
    const db = open(p, { keyEncoding: 'utf8', preallocate: 64 * KIB })
    db.put('a', Buffer.from('1'))
    const size = statSync(p).size
    expect(size).toBe(endOf(db) + 64 * KIB)
    expect(zerosFrom(p, endOf(db))).toBe(true)
    for (let i = 0; i < 20; i++) db.put(`k${i}`, Buffer.alloc(50, i))
    expect(statSync(p).size).toBe(size)
    expect(endOf(db)).toBeLessThan(size)
    expect(zerosFrom(p, endOf(db))).toBe(true)
    const end = endOf(db)
    db.close()
    expect(statSync(p).size).toBe(end)
    const again = open(p, { keyEncoding: 'utf8' })
    expect(again.recovery.tornBytes).toBe(0)
    expect(again.version).toBe(21)
    expect(again.get('k19')).toEqual(Buffer.alloc(50, 19))
    again.close()
  })

  it('a commit that outgrows the reserve extends it; a big one (over 1/16 of it) does not', () => {
    const p = tmp()
    const db = open(p, { keyEncoding: 'utf8', preallocate: 64 * KIB })
    db.put('a', Buffer.from('1'))
    expect(statSync(p).size).toBe(endOf(db) + 64 * KIB)
    // ~100 KiB in one commit: past the reserve and too big to extend it.
    db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `b${String(i).padStart(3, '0')}`, value: Buffer.alloc(1000, i) })))
    expect(statSync(p).size).toBe(endOf(db))
    // Small again: the next commit reserves anew.
    db.put('c', Buffer.from('3'))
    expect(statSync(p).size).toBe(endOf(db) + 64 * KIB)
    db.close()
  })

  it("no reserve with durability 'none', with the option off, or on a nearly full file system", () => {
    const p1 = tmp()
    const none = open(p1, { keyEncoding: 'utf8', preallocate: 64 * KIB, durability: 'none' })
    none.put('a', Buffer.from('1'))
    expect(statSync(p1).size).toBe(endOf(none))
    none.close()
    const p2 = tmp()
    const off = open(p2, { keyEncoding: 'utf8' })
    off.put('a', Buffer.from('1'))
    expect(statSync(p2).size).toBe(endOf(off))
    off.close()
    // A reserve is taken only with 64x its size free.
    for (const [free, reserved] of [
      [64 * 64 * KIB - 1, false],
      [64 * 64 * KIB, true],
    ] as const) {
      const sim = new SimFileIO({ seed: 1, freeBytes: free })
      const db = open('/d/db', { fileIO: sim, keyEncoding: 'utf8', preallocate: 64 * KIB })
      db.put('a', Buffer.from('1'))
      expect(sim.fileBytes('/d/db').length - endOf(db), `free ${free}`).toBe(reserved ? 64 * KIB : 0)
      db.close()
    }
  })

  it('a file a writer left with its zeros opens at the last commit; a read-write open cuts them', () => {
    const p = tmp()
    const db = open(p, { keyEncoding: 'utf8', preallocate: 32 * KIB })
    for (let i = 0; i < 5; i++) db.put(`k${i}`, Buffer.from(`v${i}`))
    const end = endOf(db)
    const copy = tmp()
    copyFileSync(p, copy) // what a crash now would leave
    db.close()
    const size = statSync(copy).size
    expect(size).toBeGreaterThan(end)

    const report = checkDatabase(copy)
    expect(report.ok).toBe(true)
    expect(report.version).toBe(5)
    expect(report.tornBytes).toBe(size - end)
    expect(report.warnings.map((w) => w.message).join('\n')).toMatch(/zero bytes after the newest valid commit.*reserved/)

    const ro = open(copy, { keyEncoding: 'utf8', readOnly: true })
    expect(ro.version).toBe(5)
    expect(ro.recovery.tornBytes).toBe(size - end)
    ro.close()
    expect(statSync(copy).size).toBe(size)
    const rw = open(copy, { keyEncoding: 'utf8' })
    expect(rw.version).toBe(5)
    expect(rw.recovery.tornBytes).toBe(size - end)
    expect(statSync(copy).size).toBe(end)
    expect(rw.get('k4')).toEqual(Buffer.from('v4'))
    rw.close()
  })

  it('a read-only handle follows commits written into the reserve', () => {
    const p = tmp()
    const w = open(p, { keyEncoding: 'utf8', preallocate: 64 * KIB })
    w.put('a', Buffer.from('1'))
    const r = open(p, { keyEncoding: 'utf8', readOnly: true })
    expect(r.version).toBe(1)
    expect(r.refresh()).toBe(1)
    const size = statSync(p).size
    for (let i = 0; i < 10; i++) {
      w.put(`k${i}`, Buffer.from(`v${i}`))
      expect(r.refresh()).toBe(i + 2)
      expect(r.get(`k${i}`)).toEqual(Buffer.from(`v${i}`))
    }
    expect(statSync(p).size).toBe(size)
    expect(r.refresh()).toBe(11)
    w.close()
    expect(r.refresh()).toBe(11)
    r.close()
  })

  it('a failing cut of the zeros on close throws ERR_IO, still closes, and the next open cuts them', () => {
    for (const k of [1, 2]) {
      const sim = new SimFileIO({ seed: k })
      const db = open('/d/db', { fileIO: sim, keyEncoding: 'utf8', preallocate: 64 * KIB })
      db.put('a', Buffer.from('1'))
      const end = endOf(db)
      sim.setPlan({ failAt: sim.ops + k, failWith: 'EIO' }) // op 1: the truncate, op 2: its fsync
      expect(() => db.close()).toThrow(expect.objectContaining({ code: 'ERR_IO' }))
      sim.setPlan({})
      expect(db.isOpen).toBe(false)
      expect(sim.openHandleCount).toBe(0)
      const again = open('/d/db', { fileIO: sim, keyEncoding: 'utf8' })
      expect(again.version).toBe(1)
      expect(again.get('a')).toEqual(Buffer.from('1'))
      expect(sim.fileBytes('/d/db').length).toBe(end)
      again.close()
    }
  })

  it('rejects bad values with the fix in the message', () => {
    const p = tmp()
    expect(() => open(p, { preallocate: -1 })).toThrow(RangeError)
    expect(() => open(p, { preallocate: 2 ** 31 })).toThrow(RangeError)
    expect(() => open(p, { preallocate: 1.5 })).toThrow(/preallocate/)
    expect(() => open(p, { preallocate: '1MiB' as unknown as number })).toThrow(/'preallocate' must be an integer/)
  })
})
