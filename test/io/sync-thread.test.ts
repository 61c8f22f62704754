/**
 * The writer's background fdatasync (src/io/sync-thread.ts, Store.syncBehind/settleSync):
 *   - the sync thread itself: it syncs, reports a failure with its errno code, and stops;
 *   - with durability 'none' on the real file layer, commits claim the points where
 *     background syncs began (a syncedUpTo below their own offset that is the end of an
 *     earlier commit), while every commit still keeps [syncedUpTo, commit) within the
 *     recovery window (FORMAT.md §9, rule 9), and the file reopens whole;
 *   - a background sync that fails poisons the handle at the next commit (ERR_IO): the
 *     kernel reports a writeback error to one fsync only, so it must not be lost.
 * The simulated file layer has no sync helper, so the crash and fault tests run the
 * synchronous path; these run against the real one.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RECOVERY_WINDOW } from '../../src/format/constants.js'
import { CambiumError, open } from '../../src/index.js'
import type { SyncHelper } from '../../src/io/file-io.js'
import { SyncThread } from '../../src/io/sync-thread.js'
import { wrapRealIO } from '../helpers/wrap-io.js'

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-syncthread-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Every commit record in the file: its offset, end and syncedUpTo (FORMAT.md §3, §4, §6). */
function commits(file: string): { at: number; end: number; synced: number }[] {
  const b = fs.readFileSync(file)
  const out: { at: number; end: number; synced: number }[] = []
  for (let p = 64; p + 10 <= b.length; ) {
    const len = b.readUInt32LE(p)
    if (b[p + 4] === 4) out.push({ at: p, end: p + len + 10, synced: Number(b.readBigUInt64LE(p + 6 + 64)) })
    p += len + 10
  }
  return out
}

/** ~24 MiB in commits of 64 values of 1,000 bytes (inline: under the out-of-line limit). */
function fill(db: ReturnType<typeof open>, from: number, commitsToMake: number): void {
  const value = Buffer.alloc(1000, 7)
  for (let c = 0; c < commitsToMake; c++) {
    db.batch(Array.from({ length: 64 }, (_, i) => ({ type: 'put' as const, key: Buffer.from(`k${String(from + c * 64 + i).padStart(9, '0')}`), value })))
  }
}

describe('sync thread', () => {
  it('syncs, reports a failed fdatasync with its errno code, and stops', () => {
    const file = path.join(dir, 'plain')
    const fd = fs.openSync(file, 'w+')
    const t = new SyncThread(fd)
    fs.writeSync(fd, Buffer.alloc(1 << 20, 1))
    t.start()
    expect(t.finish()).toBeUndefined()
    expect(t.running).toBe(false)
    fs.writeSync(fd, Buffer.alloc(1 << 20, 2))
    t.start()
    expect(t.finish()).toBeUndefined()
    t.stop()
    fs.closeSync(fd)

    // A descriptor number no process has open: fdatasync fails with EBADF on the thread.
    const bad = new SyncThread(0x3fffffff)
    bad.start()
    const e = bad.finish()
    expect((e as NodeJS.ErrnoException | undefined)?.code).toBe('EBADF')
    bad.stop()
  })

  it('a thread that never starts is reported gone after the start limit, not after the 10-minute wait', () => {
    const t = new SyncThread(-1, "throw new Error('cannot start')", 300)
    t.start()
    const t0 = Date.now()
    const e = t.finish()
    expect((e as NodeJS.ErrnoException | undefined)?.code).toBe('ESRCH')
    expect(t.gone).toBe(true)
    expect(Date.now() - t0).toBeLessThan(30_000)
    t.stop()
  })

  it('a thread that was stopped is not reported gone, also past its start limit', async () => {
    const fd = fs.openSync(path.join(dir, 'stopped'), 'w+')
    const t = new SyncThread(fd, undefined, 2000)
    t.start()
    expect(t.finish()).toBeUndefined()
    t.stop()
    // Past the start limit, and its 'exit' event seen (the loop turned).
    await new Promise((r) => setTimeout(r, 2300))
    expect(t.gone).toBe(false)
    fs.closeSync(fd)
  })

  it('a thread that started and ended is reported gone once the event loop has seen it exit', async () => {
    // Marks itself running (LIFE = 1, slot 3), then ends without syncing anything.
    const t = new SyncThread(-1, "Atomics.store(new Int32Array(require('node:worker_threads').workerData), 3, 1)", 600_000)
    for (let i = 0; i < 500 && !t.gone; i++) await new Promise((r) => setTimeout(r, 20))
    expect(t.gone).toBe(true)
    t.start()
    const t0 = Date.now()
    expect((t.finish() as NodeJS.ErrnoException | undefined)?.code).toBe('ESRCH')
    expect(Date.now() - t0).toBeLessThan(1000)
    t.stop()
  })
})

describe("durability 'none' syncs in the background", () => {
  it('commits claim background syncs, stay within the recovery window, and the file reopens whole', () => {
    const file = path.join(dir, 'bg.cambium')
    const db = open(file, { durability: 'none' })
    fill(db, 0, 360)
    const count = db.count()
    db.close()
    const cs = commits(file)
    expect(cs.length).toBe(361)
    const ends = new Set(cs.map((c) => c.end))
    for (const c of cs) expect(c.at - c.synced).toBeLessThanOrEqual(RECOVERY_WINDOW)
    // Claimed from a background sync: below the commit's own offset, at an earlier commit's end.
    const claimed = cs.filter((c) => c.synced < c.at && c.synced > 64 && ends.has(c.synced))
    expect(claimed.length).toBeGreaterThan(cs.length / 2)
    const again = open(file)
    expect(again.count()).toBe(count)
    expect(again.recovery.tornBytes).toBe(0)
    again.close()
  })

  it('a sync thread that is gone: the writer syncs on its own thread, asks for no other, and loses nothing', () => {
    let helpers = 0
    // In order: each write's span, and at each fdatasync the file's end (all below it is durable).
    const events: ({ at: number; end: number } | { synced: number })[] = []
    const io = wrapRealIO((h) => ({
      syncHelper: () => {
        helpers++
        return new SyncThread(-1, "throw new Error('cannot start')", 200)
      },
      write: (buf: Uint8Array, at: number) => {
        events.push({ at, end: at + buf.length })
        h.write(buf, at)
      },
      sync: () => {
        events.push({ synced: h.size() })
        h.sync()
      },
    }))
    const file = path.join(dir, 'bggone.cambium')
    const db = open(file, { durability: 'none', fileIO: io })
    fill(db, 0, 360)
    const count = db.count()
    db.close()
    expect(helpers).toBe(1)
    // No commit claims a syncedUpTo that no fdatasync before its write covered (the gone
    // thread's never ran: the writer must have synced those bytes itself).
    let claimed = 0
    for (const c of commits(file)) {
      expect(c.at - c.synced).toBeLessThanOrEqual(RECOVERY_WINDOW)
      const w = events.findIndex((e) => 'at' in e && e.at <= c.at && c.at < e.end)
      expect(w).toBeGreaterThanOrEqual(0)
      const before = Math.max(64, ...events.slice(0, w).map((e) => ('synced' in e ? e.synced : 0)))
      expect(c.synced, `commit at ${c.at}`).toBeLessThanOrEqual(before)
      if (c.synced > 64 && c.synced < c.at) claimed++
    }
    expect(claimed).toBeGreaterThan(0)
    const again = open(file)
    expect(again.count()).toBe(count)
    expect(again.recovery.tornBytes).toBe(0)
    again.close()
  })

  it('a background fdatasync that fails poisons the handle at the next commit (ERR_IO)', () => {
    let failNext = false
    let helpers = 0
    const io = wrapRealIO((h) => ({
      syncHelper: () => {
        const real = h.syncHelper!()!
        helpers++
        const helper: SyncHelper = {
          start: () => real.start(),
          get running() {
            return real.running
          },
          finish: () => {
            const e = real.finish()
            return failNext ? Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }) : e
          },
        }
        return helper
      },
    }))
    const file = path.join(dir, 'bgfail.cambium')
    const db = open(file, { durability: 'none', fileIO: io })
    fill(db, 0, 100) // past half a window: a background sync has started
    expect(helpers).toBe(1)
    const before = db.count()
    failNext = true
    let err: unknown
    try {
      fill(db, 100_000, 400)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(CambiumError)
    expect((err as CambiumError).code).toBe('ERR_IO')
    expect(() => db.put(Buffer.from('after'), Buffer.from('x'))).toThrow(/fsync failed/)
    expect(db.count()).toBeGreaterThanOrEqual(before)
    db.close()
  })
})
