/**
 * T2: kill -9 of a writer process, many times. A child commits in a loop and prints
 * "ACK <v>" after each commit returns (durability 'full' in 3 rounds of 4, 'none' in the
 * 4th: a killed process loses nothing that reached the page cache, so 'none' must not lose
 * acknowledged commits either). The parent SIGKILLs it after a random 5–150 ms; in 1 round
 * of 10 the kill comes 0–8 ms after the child was told to open, so it can land inside open()
 * (lock reclaim, recovery, truncation of a torn tail). After each kill the parent opens the
 * file read-write (reclaiming the dead writer's lock) and checks, incrementally:
 *   - no acknowledged commit is lost: version >= the last ACK;
 *   - every version the killed child made reads back exactly (checkout), plus a few random
 *     older ones, and now and then a full scan of the latest;
 *   - a new commit succeeds; the lock is released on close; no stray files (lock, guard,
 *     temp) are left in the directory.
 * Each round's child is spawned while the previous round is checked (mode 'armed'), so node's
 * start-up is off the critical path. At the end every version is read once more from a fresh
 * handle and checkDatabase() must report no error.
 *
 *   CAMBIUM_KILL_ROUNDS (default 200; the soak runs 1000+), CAMBIUM_SEED (replays the delays).
 * A new database file is started every 250 rounds so a long soak keeps the final checks cheap.
 *
 * Two known lock bugs found by killing writers are pinned by it.fails tests at the end
 * (LOCK-TMP, LOCK-GUARD; see test/RELIABILITY.md "Findings").
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkDatabase } from '../../src/check/check.js'
import { open } from '../../src/index.js'
import { Rng } from '../helpers/rng.js'
import { spawnChild, useTempDir, type Child } from './child.js'
import { checkVersion, commitVersion } from './children/common.mjs'

const envInt = (name: string, dflt: number): number => {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`)
  return n
}
const ROUNDS = envInt('CAMBIUM_KILL_ROUNDS', 200)
const SEED = envInt('CAMBIUM_SEED', Math.floor(Math.random() * 2 ** 31))
const FILE_ROUNDS = 250
const utf8 = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (msg: string) => console.log(`[kill9] ${msg}`)

let dir: string
useTempDir('cambium-kill9-', (d) => (dir = d))

/** A lock's private temp file (src/io/lock.ts tryCreate): '<db>.lock.<pid>.<hex token>.tmp'. */
const LOCK_TMP = /\.lock\.\d+\.[0-9a-f]+\.tmp$/

const durabilityOf = (round: number): 'full' | 'none' => (round % 4 === 3 ? 'none' : 'full')

/** The ACKs of a killed child: consecutive from start + 1. Returns the last acknowledged version. */
function lastAck(w: Child, start: number): number {
  const acks = w.acks()
  acks.forEach((v, i) => {
    if (v !== start + 1 + i) throw new Error(`ACK #${i} is ${v}, expected ${start + 1 + i}`)
  })
  return acks.length === 0 ? start : acks[acks.length - 1]!
}

/** Every version 0..last from a fresh read-only handle (point reads; a full scan of the latest), and check. */
function finalCheck(dbPath: string, last: number): { ms: number; checkMs: number; bytes: number } {
  const t0 = Date.now()
  const db = open(dbPath, { ...utf8, readOnly: true })
  try {
    expect(db.version).toBe(last)
    checkVersion(db, last, true)
    for (let u = 0; u < last; u++) checkVersion(db.checkout(u), u)
  } finally {
    db.close()
  }
  const t1 = Date.now()
  const report = checkDatabase(dbPath)
  expect(report.errors, JSON.stringify(report.errors.slice(0, 3))).toEqual([])
  expect(report.version).toBe(last)
  return { ms: t1 - t0, checkMs: Date.now() - t1, bytes: report.fileSize }
}

describe('kill -9 of a committing writer (T2)', () => {
  it(`${ROUNDS} rounds: every acknowledged commit survives, the lock is reclaimed, nothing is left behind`, async () => {
    const rng = new Rng(SEED)
    const t0 = Date.now()
    const stats = {
      rounds: 0,
      killedInOpen: 0,
      killedBeforeReady: 0,
      acked: 0,
      unackedSurvived: 0,
      lostAcked: 0,
      tornTails: 0,
      versionsChecked: 0,
      files: 0,
      finalMs: 0,
      checkMs: 0,
      bytes: 0,
      lockTmpLeft: 0,
    }
    let dbPath = ''
    let version = 0
    const newFile = (): void => {
      dbPath = path.join(dir, `kill9-${stats.files++}.cambium`)
      open(dbPath, utf8).close()
      version = 0
    }
    newFile()
    let next = spawnChild('writer.mjs', 'armed', dbPath, durabilityOf(0))
    for (let round = 0; round < ROUNDS; round++) {
      const durability = durabilityOf(round)
      const inOpen = rng.int(10) === 0
      const delay = inOpen ? rng.int(9) : 5 + rng.int(146)
      const ctx = `seed ${SEED}, round ${round}, durability ${durability}, kill ${delay} ms after ${inOpen ? 'GO' : 'READY'}`
      const w = next
      await w.waitFor(/^ARMED$/)
      w.send('GO')
      // The next round's child starts up while this one commits and is checked.
      const rotate = (round + 1) % FILE_ROUNDS === 0 && round + 1 < ROUNDS
      if (!rotate && round + 1 < ROUNDS) next = spawnChild('writer.mjs', 'armed', dbPath, durabilityOf(round + 1))
      let start = version
      if (inOpen) {
        await sleep(delay)
      } else {
        start = Number((await w.waitFor(/^READY (\d+)$/))[1])
        expect(start, ctx).toBe(version)
        await sleep(delay)
      }
      const st = await w.kill9()
      expect(st.signal, `${ctx}\n${w.describe()}`).toBe('SIGKILL')
      const ready = w.lines.find((l) => l.startsWith('READY '))
      if (inOpen) stats.killedInOpen++
      if (ready === undefined) stats.killedBeforeReady++
      else expect(Number(ready.slice(6)), ctx).toBe(version)
      const acked = lastAck(w, start)
      stats.acked += acked - start

      let db
      try {
        db = open(dbPath, utf8) // reclaims the dead writer's lock
      } catch (e) {
        throw new Error(`${ctx}: the open after the kill failed: ${(e as Error).message}; files: ${fs.readdirSync(dir).join(', ')}`, { cause: e })
      }
      try {
        if (db.recovery.tornBytes > 0) stats.tornTails++
        if (db.version < acked) stats.lostAcked += acked - db.version
        expect(db.version, `${ctx}: acknowledged commits lost`).toBeGreaterThanOrEqual(acked)
        stats.unackedSurvived += db.version - acked
        for (let u = start + 1; u <= db.version; u++) checkVersion(db.checkout(u), u)
        stats.versionsChecked += db.version - start
        for (let i = 0; i < 3; i++) {
          const u = rng.int(db.version + 1)
          checkVersion(db.checkout(u), u)
        }
        checkVersion(db, db.version, round % 20 === 19)
        commitVersion(db, db.version + 1)
        checkVersion(db, db.version)
        version = db.version
      } catch (e) {
        throw new Error(`${ctx}: ${(e as Error).message}`, { cause: e })
      } finally {
        db.close()
      }
      // Only the database file is left: no lock file, reclaim guard, temp or set-aside file.
      // Known bug LOCK-TMP (see the regression test below): a writer killed inside
      // tryCreate() leaves its private '<db>.lock.<pid>.<token>.tmp'; counted and removed here.
      const stray = fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(dbPath)) && f !== path.basename(dbPath))
      const lockTmp = stray.filter((f) => LOCK_TMP.test(f))
      stats.lockTmpLeft += lockTmp.length
      for (const f of lockTmp) fs.rmSync(path.join(dir, f))
      expect(stray.filter((f) => !LOCK_TMP.test(f)), ctx).toEqual([])
      stats.rounds++
      if (rotate) {
        const f = finalCheck(dbPath, version)
        stats.finalMs += f.ms
        stats.checkMs += f.checkMs
        stats.bytes += f.bytes
        fs.rmSync(dbPath)
        newFile()
        next = spawnChild('writer.mjs', 'armed', dbPath, durabilityOf(round + 1))
      }
    }
    const f = finalCheck(dbPath, version)
    stats.finalMs += f.ms
    stats.checkMs += f.checkMs
    stats.bytes += f.bytes
    expect(stats.lostAcked).toBe(0)
    log(
      `${stats.rounds} rounds (seed ${SEED}) in ${Date.now() - t0} ms: ${stats.acked} acknowledged commits by killed writers, ` +
        `${stats.lostAcked} lost; ${stats.unackedSurvived} made but not acknowledged survived; ${stats.tornTails} torn tails cut; ` +
        `${stats.killedInOpen} kills aimed at open() (${stats.killedBeforeReady} landed before READY); ` +
        `${stats.versionsChecked} new versions checked after the kills; final check of every version ${stats.finalMs} ms, ` +
        `checkDatabase ${stats.checkMs} ms over ${stats.bytes} bytes in ${stats.files} file(s); ` +
        `stray lock temp files left by kills inside open() (LOCK-TMP): ${stats.lockTmpLeft}`,
    )
  }, Math.max(120_000, ROUNDS * 1_000))

  // KNOWN BUG LOCK-TMP (it.fails: passes while the bug is there; when it turns red, the bug is
  // fixed: make it a plain it()). acquireWriterLock() writes '<db>.lock.<pid>.<token>.tmp', links
  // it to '<db>.lock' and removes it in a finally block; a writer killed between the write and
  // the removal leaves the temp file forever (nothing removes another process's temp files).
  // The kill rounds above hit this window now and then. Reproduced here without timing: the
  // file a killed writer leaves behind, then a read-write open and close by a live process.
  it('LOCK-TMP (fixed): a lock temp file left by a writer killed inside open() is removed by the next writer', () => {
    const dbPath = path.join(dir, 'lock-tmp.cambium')
    open(dbPath, utf8).close()
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    const leftover = `${dbPath}.lock.${dead.stdout}.0123456789abcdef0123456789abcdef.tmp`
    fs.writeFileSync(leftover, JSON.stringify({ pid: Number(dead.stdout), hostname: os.hostname() }))
    const db = open(dbPath, utf8)
    db.put('a', 'b')
    db.close()
    try {
      expect(fs.existsSync(leftover), `${path.basename(leftover)} is still there`).toBe(false)
    } finally {
      fs.rmSync(leftover, { force: true })
    }
  })

  // KNOWN BUG LOCK-GUARD (it.fails, as above). A writer killed while it reclaims a dead
  // writer's lock leaves '<db>.lock.reclaim' (src/io/lock.ts takeGuard/reclaim). For the next
  // 10 s (STALE_GUARD_MS) every read-write open retries for ~0.5 s and then fails with
  // ERR_LOCKED naming the dead writer ("locked by process N") although no process holds the
  // lock. Seen with real kills: 2 guards left in 23 reclaiming opens killed 0-4 ms in (the
  // report has the script). Reproduced here without timing: the two files such a kill leaves.
  it('LOCK-GUARD (fixed): a reclaim guard left by a writer killed while reclaiming does not block the next writer', () => {
    const dbPath = path.join(dir, 'lock-guard.cambium')
    open(dbPath, utf8).close()
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout)
    const info = { pid: dead, startTime: null, bootId: null, hostname: os.hostname(), acquiredAt: new Date().toISOString(), token: '0123456789abcdef' }
    fs.writeFileSync(dbPath + '.lock', JSON.stringify(info)) // the first dead writer's lock
    fs.writeFileSync(dbPath + '.lock.reclaim', String(dead + 1)) // the guard of the reclaimer killed next
    try {
      const db = open(dbPath, utf8)
      db.close()
    } finally {
      fs.rmSync(dbPath + '.lock', { force: true })
      fs.rmSync(dbPath + '.lock.reclaim', { force: true })
    }
  })
})

