/**
 * compactAsync's worker thread (src/db/compact-thread.ts, compact-worker.ts) where it differs
 * from the copy on the caller's thread: errors found by the worker reach the caller with their
 * code, path and offset, and leave the database as it was; compact() (which blocks anyway)
 * and a file layer that is not node:fs itself keep the copy on the caller's thread. Commits made
 * during the worker's copy: online.test.ts; close() during it: auto.test.ts.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CambiumError, open } from '../../src/index.js'
import { wrapRealIO } from '../helpers/wrap-io.js'
import { checkContents, type Db } from './helpers.js'

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-worker-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const key = (i: number): string => `k/${String(i).padStart(6, '0')}`

function fill(file: string, n: number): Map<string, Buffer> {
  const model = new Map<string, Buffer>()
  const db = open(file, { keyEncoding: 'utf8', durability: 'none' }) as Db
  for (let b = 0; b < n; b += 1000) {
    const ops = Array.from({ length: 1000 }, (_, j) => ({ type: 'put' as const, key: key(b + j), value: Buffer.from(`value ${b + j}`.padEnd(80, '-')) }))
    for (const o of ops) model.set(o.key, o.value)
    db.batch(ops)
  }
  db.close()
  return model
}

/** What a failed compactAsync must leave: the rejection it gave (a CambiumError), no
 *  `.compact`, the file as it was, no run, and a handle that still writes and reads whole. */
async function expectFailedRun(db: Db, run: Promise<unknown>, file: string, size: number, model: Map<string, Buffer>, what: string): Promise<CambiumError> {
  let err: unknown
  try {
    await run
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(CambiumError)
  expect((err as CambiumError).path).toBe(file)
  expect(fs.existsSync(file + '.compact')).toBe(false)
  expect(fs.statSync(file).size).toBe(size)
  expect(db.compaction.running).toBe(false)
  db.put('after', Buffer.from('still writable'))
  model.set('after', Buffer.from('still writable'))
  checkContents(db, model, what)
  return err as CambiumError
}

describe('compaction on a worker thread', () => {
  it('a corrupt node the worker reads fails compactAsync with ERR_CORRUPT (path, offset); nothing changes', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'corrupt.cambium')
    const model = fill(file, 20_000)
    const db = open(file, { keyEncoding: 'utf8', durability: 'none' }) as Db
    try {
      // The writer keeps the root in its cache; the worker reads it from the file.
      expect(db.get(key(1))).toEqual(model.get(key(1)))
      const root = db.internals.head.commit.rootOffset
      const fd = fs.openSync(file, 'r+')
      const b = Buffer.alloc(1)
      fs.readSync(fd, b, 0, 1, root + 12)
      b[0]! ^= 0x10
      fs.writeSync(fd, b, 0, 1, root + 12)
      fs.closeSync(fd)
      const size = fs.statSync(file).size
      const err = await expectFailedRun(db, db.compactAsync(), file, size, model, 'after the failed compaction')
      expect(err.code).toBe('ERR_CORRUPT')
      expect(err.offset).toBe(root)
    } finally {
      db.close()
    }
  })

  it('compact() and a file layer that is not node:fs copy on the calling thread; both give the same contents', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'inline.cambium')
    const model = fill(file, 5_000)
    const db = open(file, { keyEncoding: 'utf8', durability: 'none' }) as Db
    try {
      expect(db.compact().thread).toBe(false)
      const r = await db.compactAsync()
      expect(r.thread).toBe(true)
      checkContents(db, model, 'after the worker copy')
    } finally {
      db.close()
    }
    const wrapped = open(file, { keyEncoding: 'utf8', durability: 'none', fileIO: wrapRealIO(() => ({})) }) as Db
    try {
      const r = await wrapped.compactAsync()
      expect(r.thread).toBe(false)
      checkContents(wrapped, model, 'after the copy on the calling thread')
    } finally {
      wrapped.close()
    }
  })

  it('a worker that ends without a word (terminated) fails compactAsync with ERR_IO; nothing changes', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'terminated.cambium')
    const model = fill(file, 20_000)
    const db = open(file, { keyEncoding: 'utf8', durability: 'none' }) as Db
    try {
      const size = fs.statSync(file).size
      const pending = db.compactAsync()
      // The run and its worker exist once compactAsync has returned its promise.
      const run = (db as unknown as { run: { compactor: { worker?: { terminate(): Promise<number> } } } }).run
      expect(run.compactor.worker).toBeDefined()
      void run.compactor.worker!.terminate()
      const err = await expectFailedRun(db, pending, file, size, model, 'after the worker was terminated')
      expect(err.code).toBe('ERR_IO')
      expect(err.message).toMatch(/compaction worker stopped unexpectedly/)
    } finally {
      db.close()
    }
  })

  it('a worker that ends on an uncaught error while the writer is blocked on it fails the wait with ERR_IO (no hang)', () => {
    // A blocked writer never turns its event loop, so the Worker's 'exit' event cannot reach it;
    // run in a child with a time limit, so that a hang fails this test instead of the suite.
    const file = path.join(dir, 'blocked.cambium')
    fill(file, 10)
    const dist = (f: string): string => JSON.stringify(pathToFileURL(path.resolve(import.meta.dirname, '../../dist', f)).href)
    const stand = path.resolve(import.meta.dirname, '../helpers/dying-compact-worker.mjs')
    const script = `
import { CompactThread } from ${dist('db/compact-thread.js')}
import { realFileIO } from ${dist('io/real-file-io.js')}
const t = new CompactThread({ io: realFileIO, path: ${JSON.stringify(file)}, tmpPath: ${JSON.stringify(file + '.compact')}, createdAt: 0, end: () => 0, workerPath: ${JSON.stringify(stand)} })
const t0 = Date.now()
try {
  t.finish()
  console.log(JSON.stringify({ finished: true }))
} catch (e) {
  console.log(JSON.stringify({ name: e.constructor.name, code: e.code, message: e.message, path: e.path, ms: Date.now() - t0 }))
}
t.close()
`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
    expect(r.status, `child: ${r.stderr}`).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; code: string; message: string; path: string; ms: number }
    expect(out.name).toBe('CambiumError')
    expect(out.code).toBe('ERR_IO')
    expect(out.message).toMatch(/compaction worker stopped unexpectedly/)
    expect(out.path).toBe(file)
  })
})
