/**
 * T6 on real file systems (the simulated ENOSPC/EIO/EFBIG sweeps are in test/fault/io-errors):
 *
 *   1. A 1 MiB tmpfs, filled until commits fail: ERR_NO_SPACE (cause ENOSPC), the version and
 *      the file size unchanged, reads and a read-only handle fine, compact() refused, creating
 *      a database refused; once a filler file is deleted commits work again, a reopen gives
 *      the last acknowledged version and checkDatabase finds nothing. Needs `mount` (root, and
 *      a kernel that lets this container mount): skipped with the reason logged otherwise.
 *   2. /dev/full (always runs where it exists): the database's writes are sent to /dev/full
 *      while "full", so every commit gets the kernel's real ENOSPC.
 *   3. `ulimit -f` (RLIMIT_FSIZE) in a child: a real EFBIG when the file would pass the limit.
 *
 * Known bug LOCK-TMP (see the it.fails below): a failed lock-file write leaves
 * '<db>.lock.<pid>.<token>.tmp' behind; cases 1 and 3 meet it when creating on a full disk.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkDatabase } from '../../src/check/check.js'
import { CambiumError, open, type Database, type FileHandle, type FileIO } from '../../src/index.js'
import { realFileIO } from '../../src/io/real-file-io.js'

const repo = path.resolve(import.meta.dirname, '../..')
const CHILD = path.join(import.meta.dirname, 'children/fsize.mjs')
const LOCK_TMP = /\.lock\.\d+\.[0-9a-f]+\.tmp$/
const log = (msg: string) => console.log(`[full-disk] ${msg}`)
let dir: string
const mounts: string[] = []

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-full-'))
  if (fs.existsSync(path.join(repo, 'dist/index.js'))) return
  const r = spawnSync('npm', ['run', 'build'], { cwd: repo, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`)
}, 120_000)

afterAll(() => {
  for (const m of mounts) {
    const r = spawnSync('umount', [m], { encoding: 'utf8' })
    if (r.status !== 0) spawnSync('umount', ['-l', m])
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

type Db = Database<string, Buffer>
const val = (v: number, n: number): Buffer => Buffer.alloc(n, v & 0xff)

/** `cause`: the errno of the underlying error (undefined: refused up front, no failed syscall). */
function expectNoSpace(fn: () => unknown, cause: string | undefined, what: string): CambiumError {
  try {
    fn()
  } catch (e) {
    if (e instanceof CambiumError && e.code === 'ERR_NO_SPACE') {
      expect((e.cause as { code?: string } | undefined)?.code, `${what}: cause`).toBe(cause)
      expect(e.message, what).toMatch(/free disk space and retry|free space and retry/)
      return e
    }
    throw new Error(`${what}: expected ERR_NO_SPACE, got ${String(e)}`, { cause: e })
  }
  throw new Error(`${what}: expected ERR_NO_SPACE, but the call returned`)
}

/** Versions 1..n: version v puts key k<v> = val(v, 300). The handle is at `latest` (default n). */
function checkVersions(db: Db, n: number, what: string, latest = n): void {
  expect(db.version, what).toBe(latest)
  for (const v of [0, 1, Math.floor(n / 2), n]) {
    const s = db.checkout(v)
    expect(s.count(), `${what}: count at v${v}`).toBe(v)
    if (v > 0) expect(s.get(`k${v}`)?.equals(val(v, 300)), `${what}: k${v} at v${v}`).toBe(true)
  }
}

/** The three kinds of commit that append nodes, each too big for any slack in the last page. */
function bigCommits(db: Db): Array<[string, () => unknown]> {
  return [
    ['put', () => db.put('big', val(1, 6000))],
    ['batch', () => db.batch([{ type: 'put', key: 'big', value: val(2, 6000) }, { type: 'del', key: 'k1' }])],
    ['transaction', () => db.transaction((tx) => tx.put('big', val(3, 6000)))],
  ]
}

describe('a real full file system (T6)', () => {
  it('a 1 MiB tmpfs filled up: ERR_NO_SPACE, nothing changes, commits work again once space is freed', (ctx) => {
    const mnt = fs.mkdtempSync(path.join(dir, 'tmpfs-'))
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' })
    if (m.status !== 0 || m.error !== undefined) {
      log(`tmpfs test SKIPPED: mount -t tmpfs failed (${(m.error?.message ?? m.stderr).trim() || `exit ${m.status}`}); the /dev/full and ulimit -f tests still run`)
      ctx.skip()
      return
    }
    mounts.push(mnt)
    const p = path.join(mnt, 'db.cambium')
    const db = open(p, { keyEncoding: 'utf8' }) as Db
    for (let v = 1; v <= 20; v++) db.put(`k${v}`, val(v, 300))
    // Fill the file system.
    const filler = path.join(mnt, 'filler')
    const fd = fs.openSync(filler, 'w')
    let filled = 0
    for (const chunk of [65536, 4096, 512, 1]) {
      try {
        for (;;) filled += fs.writeSync(fd, Buffer.alloc(chunk, 1))
      } catch (e) {
        expect((e as { code?: string }).code).toBe('ENOSPC')
      }
    }
    fs.closeSync(fd)
    expect(fs.statfsSync(mnt).bavail).toBe(0)
    const size = fs.statSync(p).size
    // Every kind of commit fails cleanly, several times over: the handle is not poisoned.
    for (let round = 0; round < 3; round++) {
      for (const [what, fn] of bigCommits(db)) {
        expectNoSpace(fn, 'ENOSPC', `${what} on a full tmpfs`)
        expect(db.version, what).toBe(20)
        expect(fs.statSync(p).size, `${what}: the partial write was cut off`).toBe(size)
      }
    }
    checkVersions(db, 20, 'after the failed commits')
    const ro = open(p, { keyEncoding: 'utf8', readOnly: true }) as Db
    checkVersions(ro, 20, 'a read-only handle on the full disk')
    ro.close()
    // compact() refuses up front and leaves no file.
    const ce = expectNoSpace(() => db.compact(), undefined, 'compact() on a full tmpfs')
    expect(ce.message).toMatch(/compaction needs about \d+ bytes free, the disk has 0/)
    expect(db.version).toBe(20)
    // Creating another database fails cleanly (no half-made file).
    const other = path.join(mnt, 'other.cambium')
    const oe = expectNoSpace(() => open(other), 'ENOSPC', 'creating a database on a full tmpfs')
    expect(fs.existsSync(other)).toBe(false)
    const stray = fs.readdirSync(mnt).filter((f) => !['db.cambium', 'db.cambium.lock', 'filler'].includes(f))
    expect(stray.filter((f) => !LOCK_TMP.test(f)), 'stray files besides known bug LOCK-TMP').toEqual([])
    for (const f of stray) fs.rmSync(path.join(mnt, f))
    // Space freed: the same handle commits again.
    fs.rmSync(filler)
    expect(db.put('big', val(9, 6000))).toBe(21)
    db.close()
    const again = open(p, { keyEncoding: 'utf8' }) as Db
    expect(again.version).toBe(21)
    expect(again.recovery.tornBytes).toBe(0)
    checkVersions(again, 20, 'reopened', 21)
    again.close()
    const report = checkDatabase(p)
    expect(report.errors).toEqual([])
    expect(fs.readdirSync(mnt).sort()).toEqual(['db.cambium'])
    log(
      `tmpfs (1 MiB): filled with ${filled} bytes; 9 commits (put, batch, transaction x3) failed with ERR_NO_SPACE (ENOSPC), version and size unchanged; ` +
        `compact() refused; creating a database refused (${oe.message.replace(mnt, '<mnt>')}); ` +
        `LOCK-TMP files left by that: ${stray.length}; after freeing space: committed v21, reopened at v21, check OK`,
    )
  })

  it('/dev/full: commits get the kernel ENOSPC; nothing changes; the handle keeps working', (ctx) => {
    if (!fs.existsSync('/dev/full')) {
      log('/dev/full test SKIPPED: no /dev/full')
      ctx.skip()
      return
    }
    const state = { full: false }
    const devFull = fs.openSync('/dev/full', 'w')
    const io: FileIO = {
      ...realFileIO,
      open(p, mode) {
        const h = realFileIO.open(p, mode)
        const wrapped: FileHandle = {
          read: (b, pos) => h.read(b, pos),
          write: (b, pos) => {
            if (state.full) {
              fs.writeSync(devFull, b) // throws the kernel's ENOSPC
              throw new Error('unreachable: /dev/full accepted a write')
            }
            h.write(b, pos)
          },
          sync: () => h.sync(),
          truncate: (n) => h.truncate(n),
          size: () => h.size(),
          close: () => h.close(),
        }
        return wrapped
      },
    }
    const p = path.join(dir, 'devfull.cambium')
    try {
      const db = open(p, { keyEncoding: 'utf8', fileIO: io }) as Db
      for (let v = 1; v <= 20; v++) db.put(`k${v}`, val(v, 300))
      const size = fs.statSync(p).size
      state.full = true
      for (const [what, fn] of [...bigCommits(db), ['small put', () => db.put('x', Buffer.from('y'))] as [string, () => unknown]]) {
        expectNoSpace(fn, 'ENOSPC', `${what} with writes going to /dev/full`)
        expect(db.version, what).toBe(20)
        expect(fs.statSync(p).size, what).toBe(size)
      }
      checkVersions(db, 20, '/dev/full')
      state.full = false
      expect(db.put('big', val(9, 6000))).toBe(21)
      db.close()
      const again = open(p, { keyEncoding: 'utf8', readOnly: true }) as Db
      expect(again.version).toBe(21)
      again.close()
      expect(checkDatabase(p).errors).toEqual([])
    } finally {
      fs.closeSync(devFull)
    }
  })

  it('ulimit -f (a real EFBIG in a child): ERR_NO_SPACE, nothing changes, the handle keeps working', () => {
    const p = path.join(dir, 'fsize.cambium')
    const db = open(p, { keyEncoding: 'utf8' }) as Db
    for (let v = 1; v <= 20; v++) db.put(`k${v}`, val(v, 300))
    db.close()
    const limitKiB = 64
    const r = spawnSync('bash', ['-c', `ulimit -f ${limitKiB} && exec "$0" "$@"`, process.execPath, CHILD, 'fill', p], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(/^RESULT (.*)$/m.exec(r.stdout)![1]!) as {
      start: number
      acked: number
      error: { code: string; cause: string; message: string }
      versionAfter: number
      sizeBefore: number
      sizeAfter: number
      lastValueOk: boolean
      count: number
      again: string
      tiny: number | string
      finalVersion: number
    }
    expect(out.error.code, out.error.message).toBe('ERR_NO_SPACE')
    expect(out.error.cause).toBe('EFBIG')
    expect(out.versionAfter).toBe(out.acked)
    expect(out.sizeAfter).toBe(out.sizeBefore)
    expect(out.lastValueOk).toBe(true)
    expect(out.again).toBe('ERR_NO_SPACE')
    expect(out.acked).toBeGreaterThan(out.start)
    const reopened = open(p, { keyEncoding: 'utf8', readOnly: true }) as Db
    expect(reopened.version).toBe(out.finalVersion)
    reopened.close()
    expect(checkDatabase(p).errors).toEqual([])
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('fsize.cambium'))).toEqual(['fsize.cambium'])
    log(
      `ulimit -f ${limitKiB} KiB: ${out.acked - out.start} commits, then ERR_NO_SPACE (EFBIG) at ${out.sizeBefore} bytes; ` +
        `version and size unchanged; a second big commit: ${out.again}; a tiny commit: ${typeof out.tiny === 'number' ? `v${out.tiny}` : out.tiny}; reopened at v${out.finalVersion}, check OK`,
    )
  })

  // KNOWN BUG LOCK-TMP (it.fails: passes while the bug is there; make it a plain it() once it
  // turns red). src/io/lock.ts tryCreate(): writeFileSync(tmp, text, { flag: 'wx' }) creates
  // '<db>.lock.<pid>.<token>.tmp' and then fails to write it (ENOSPC, EFBIG, EDQUOT); the
  // removal is in a finally block that only starts after that write, so the empty temp file
  // stays. Here under `ulimit -f 0`: every write fails with EFBIG.
  it('LOCK-TMP (fixed): a read-write open whose lock-file write fails leaves no temp file', () => {
    const p = path.join(dir, 'locktmp.cambium')
    open(p).close()
    const r = spawnSync('bash', ['-c', 'ulimit -f 0 && exec "$0" "$@"', process.execPath, CHILD, 'open', p], { encoding: 'utf8' })
    const out = JSON.parse(/^RESULT (.*)$/m.exec(r.stdout)![1]!) as { opened: boolean; error?: { code: string; cause: string } }
    expect(out.error?.code).toBe('ERR_NO_SPACE') // holds today: the open fails cleanly otherwise
    expect(out.error?.cause).toBe('EFBIG')
    const left = fs.readdirSync(dir).filter((f) => f.startsWith('locktmp.cambium.'))
    for (const f of left) fs.rmSync(path.join(dir, f))
    expect(left).toEqual([])
  })
})
