/**
 * File work a compaction moves off the JavaScript thread where the file layer allows it (the
 * real one does), checked through a wrapper around the real file layer:
 *   - compactAsync's periodic fsyncs (one per 8 MiB copied) run on libuv's thread pool: they
 *     happen, the result is intact, and one that fails fails the compaction with ERR_IO (the
 *     kernel reports a writeback error to one fdatasync only, so it must not be lost),
 *     leaving the database as it was;
 *   - the replaced file is closed with closeSoon (closing a deleted 1 GB file frees its page
 *     cache: ~0.5-1 s that was the writer's longest pause).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CambiumError, open } from '../../src/index.js'
import type { FileIO } from '../../src/io/file-io.js'
import { wrapRealIO } from '../helpers/wrap-io.js'

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-bgsync-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** The real file layer, counting syncAsync calls and failing them if asked. */
function wrapped(fail: boolean): { io: FileIO; calls: () => number; closedSoon: () => number } {
  let calls = 0
  let closedSoon = 0
  const io = wrapRealIO((h) => ({
    closeSoon: () => {
      closedSoon++
      h.closeSoon!()
    },
    syncAsync: async () => {
      calls++
      if (fail) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
      await h.syncAsync!()
    },
  }))
  return { io, calls: () => calls, closedSoon: () => closedSoon }
}

/** ~20 MiB of live data: 20,000 values of 1 KiB. */
function fill(file: string, io: FileIO): void {
  const db = open(file, { fileIO: io, durability: 'none' })
  const v = Buffer.alloc(1024, 7)
  for (let i = 0; i < 20_000; i += 1000) {
    db.batch(Array.from({ length: 1000 }, (_, j) => ({ type: 'put' as const, key: `k${String(i + j).padStart(6, '0')}`, value: v })))
  }
  db.close()
}

describe('compaction: file work off the JavaScript thread', () => {
  it('syncs in the background and keeps every entry', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'ok.cambium')
    const { io, calls, closedSoon } = wrapped(false)
    fill(file, io)
    const db = open(file, { fileIO: io, durability: 'none' })
    try {
      const r = await db.compactAsync()
      expect(calls()).toBeGreaterThanOrEqual(1)
      expect(closedSoon()).toBe(1) // the replaced file (no snapshot still reads it)
      expect(r.bytesAfter).toBeLessThan(r.bytesBefore)
      expect(db.count()).toBe(20_000)
      expect(db.get('k000123')?.length).toBe(1024)
    } finally {
      db.close()
    }
  })

  it('a failed background sync fails the compaction with ERR_IO; nothing changes', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'fail.cambium')
    const { io, calls } = wrapped(true)
    fill(file, io)
    const before = fs.statSync(file).size
    const db = open(file, { fileIO: io, durability: 'none' })
    try {
      let err: unknown
      try {
        await db.compactAsync()
      } catch (e) {
        err = e
      }
      expect(calls()).toBeGreaterThanOrEqual(1)
      expect(err).toBeInstanceOf(CambiumError)
      expect((err as CambiumError).code).toBe('ERR_IO')
      expect((err as CambiumError).message).toMatch(/fsync of the compacted file/)
      expect(fs.statSync(file).size).toBe(before)
      expect(fs.readdirSync(dir).filter((f) => f.startsWith('fail.cambium') && f !== 'fail.cambium' && !f.endsWith('.lock'))).toEqual([])
      db.put('after', 'still writable')
      expect(db.count()).toBe(20_001)
    } finally {
      db.close()
    }
  })
})
