/**
 * T1: crash-point sweep. A seeded workload (load batches, puts, deletes, batches,
 * transactions, an aborted transaction, rollbacks, out-of-line values, nodeSize 512) runs
 * once cleanly to count its file-system ops; then for every op N (file creation included)
 * it runs again on a fresh SimFileIO that crashes before op N, and every crash mode is
 * applied to the state at that point. Each crashed image is reopened and must satisfy the
 * survival rule:
 *   - durability 'full': lastAcked <= version <= lastAttempted;
 *     durability 'none': version <= lastAttempted (any version ever committed);
 *   - the latest version and every older version (checkout) equal the model exactly;
 *   - a read-only open reports the same version; a read-write open cuts the torn tail;
 *   - a new commit succeeds and survives a later power loss (drop crash) and reopen.
 * A crash during creation must leave no file (ERR_NOT_FOUND with create: false) or a valid
 * empty version-0 database, never an error.
 *
 * Seeds: CAMBIUM_FAULT_SEEDS (default 20) starting at CAMBIUM_FAULT_SEED_BASE (default 1);
 * CAMBIUM_FAULT_COMMITS sets the workload size. A failure prints seed, op, mode and durability:
 * replay it with CAMBIUM_FAULT_SEED_BASE=<seed> CAMBIUM_FAULT_SEEDS=1.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { COMMIT_RECORD_SIZE } from '../../src/format/constants.js'
import type { Durability, FileIO } from '../../src/index.js'
import { CRASH_MODES, SimFileIO, type CrashMode } from '../helpers/sim-file-io.js'
import {
  checkAllVersions,
  checkContents,
  DB_PATH,
  describeError,
  isCambium,
  layeredIO,
  yieldToEventLoop,
  makeWorkload,
  Mismatch,
  openDb,
  runWorkload,
  type Contents,
  type Db,
  type RetryLog,
  type RunResult,
  type Workload,
} from './workload.js'

const envInt = (name: string, dflt: number): number => {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${v}`)
  return n
}

const SEEDS = envInt('CAMBIUM_FAULT_SEEDS', 20)
const SEED_BASE = envInt('CAMBIUM_FAULT_SEED_BASE', 1)
const COMMITS = envInt('CAMBIUM_FAULT_COMMITS', 30)
const LOAD_KEYS = envInt('CAMBIUM_FAULT_LOAD_KEYS', 80)
/** Durability per seed: two 'full' seeds for each 'none' seed. */
const durabilityOf = (seed: number): Durability => (seed % 3 === 0 ? 'none' : 'full')

const stats = { seeds: 0, crashPoints: 0, reopens: 0, creationCrashes: 0, byOutcome: new Map<string, number>() }
const bump = (k: string): void => void stats.byOutcome.set(k, (stats.byOutcome.get(k) ?? 0) + 1)

function fail(ctx: string, msg: string): never {
  throw new Mismatch(`${ctx}: ${msg}`)
}

/** Reopens a crashed image and checks the survival rule; throws Mismatch (or the engine's error) with `ctx`. */
function checkReopen(sim: SimFileIO, res: RunResult, wl: Workload, durability: Durability, ctx: string, preallocate = 0): void {
  const o = { durability, preallocate }
  if (res.lastAcked === -1) {
    stats.creationCrashes++
    // Crash during creation: no file, or a complete version-0 database; never an error.
    let db
    try {
      db = openDb(sim, { ...o, create: false })
    } catch (e) {
      if (!isCambium(e, 'ERR_NOT_FOUND')) fail(ctx, `open({ create: false }) after a crash during creation threw ${describeError(e)}`)
    }
    if (db !== undefined) {
      if (db.version !== 0) fail(ctx, `a half-created file opened at version ${db.version}`)
      checkContents(db, new Map(), `${ctx} created v0`)
      db.close()
      bump('creation: file present')
    } else bump('creation: no file')
  }

  // A read-only open first: same survival rule, file untouched. It stays open and must
  // follow the writer's recovery (tail cut) and next commit through refresh().
  const existed = sim.exists(DB_PATH)
  let ro: Db | undefined
  let roVersion = -1
  if (existed) {
    const sizeBefore = sim.fileBytes(DB_PATH).length
    try {
      ro = openDb(sim, { ...o, readOnly: true })
    } catch (e) {
      fail(ctx, `read-only open threw ${describeError(e)}`)
    }
    roVersion = ro.version
    if (roVersion > res.lastAttempted) fail(ctx, `read-only open found version ${roVersion}, but the last commit attempted was ${res.lastAttempted}`)
    checkContents(ro, wl.versions[roVersion]!, `${ctx} read-only v${roVersion}`)
    if (sim.fileBytes(DB_PATH).length !== sizeBefore) fail(ctx, 'a read-only open changed the file size')
  }

  let db
  try {
    db = openDb(sim, o)
  } catch (e) {
    fail(ctx, `open threw ${describeError(e)}`)
  }
  const v = db.version
  if (ro !== undefined && roVersion !== v) fail(ctx, `read-only open found version ${roVersion}, read-write open ${v}`)
  const lo = durability === 'full' ? Math.max(0, res.lastAcked) : 0
  if (v < lo || v > res.lastAttempted) {
    fail(ctx, `reopened at version ${v}; allowed ${lo}..${res.lastAttempted} (lastAcked ${res.lastAcked}, durability ${durability})`)
  }
  if (!existed && v !== 0) fail(ctx, `created fresh but at version ${v}`)
  bump(v === res.lastAttempted ? (v === res.lastAcked ? 'at lastAcked (nothing in flight)' : 'in-flight commit survived') : v === res.lastAcked ? 'in-flight commit lost' : 'older than lastAcked (none)')
  checkAllVersions(db, wl.versions, ctx, wl.probeKeys)
  const end = db.internals.head.offset + COMMIT_RECORD_SIZE
  const size = sim.fileBytes(DB_PATH).length
  if (size !== end) fail(ctx, `after a read-write open the file is ${size} bytes, but the head commit ends at ${end} (torn tail not cut)`)

  // A new commit works, and survives a later power loss.
  const marker = Buffer.from(ctx)
  let nv: number
  try {
    nv = db.put('after/crash', marker)
    db.close()
  } catch (e) {
    fail(ctx, `the first commit after recovery threw ${describeError(e)}`)
  }
  if (nv !== v + 1) fail(ctx, `the first commit after recovery returned version ${nv}, expected ${v + 1}`)
  if (ro !== undefined) {
    try {
      const rv = ro.refresh()
      if (rv !== v + 1) fail(ctx, `a read-only handle opened before recovery refreshes to version ${rv}, expected ${v + 1}`)
      const want = new Map(wl.versions[v]!)
      want.set('after/crash', marker)
      checkContents(ro, want, `${ctx} read-only handle after refresh()`)
    } catch (e) {
      if (e instanceof Mismatch) throw e
      fail(ctx, `refresh() of a read-only handle opened before recovery threw ${describeError(e)}`)
    }
    ro.close()
  }
  if (sim.openHandleCount !== 0) fail(ctx, `${sim.openHandleCount} file handles still open after close()`)
  const after = sim.crash('drop', 7)
  const db2 = openDb(after, o)
  try {
    if (db2.version !== v + 1) fail(ctx, `after a clean close and power loss the database is at version ${db2.version}, expected ${v + 1}`)
    const want = new Map(wl.versions[v]!)
    want.set('after/crash', marker)
    checkContents(db2, want, `${ctx} after the new commit`)
    checkContents(db2.checkout(v), wl.versions[v]!, `${ctx} checkout(${v}) after the new commit`)
    if (db2.recovery.tornBytes !== 0) fail(ctx, `clean reopen reports ${db2.recovery.tornBytes} torn bytes`)
  } finally {
    db2.close()
  }
  stats.reopens++
}

interface SeedReport {
  seed: number
  durability: Durability
  ops: number
  commits: number
  failures: string[]
}

async function sweepSeed(seed: number, preallocate = 0): Promise<SeedReport> {
  const durability = durabilityOf(seed)
  const o = { durability, preallocate }
  const wl = makeWorkload(seed, { commits: COMMITS, loadKeys: LOAD_KEYS })
  const failures: string[] = []

  // Clean run: count the ops and check the result.
  const clean = new SimFileIO({ seed, powersafeOverwrite: true })
  const res = runWorkload(clean, wl, o)
  expect(res.crashed).toBe(false)
  const total = clean.ops
  const finalVersion = wl.versions.length - 1
  expect(res.lastAcked).toBe(finalVersion)
  const check = openDb(clean.crash('drop', seed), o)
  checkAllVersions(check, wl.versions, `seed ${seed} clean run`, wl.probeKeys, true)
  expect(check.version).toBe(finalVersion)
  check.close()

  for (let n = 1; n <= total; n++) {
    await yieldToEventLoop()
    const sim = new SimFileIO({ seed: seed * 7919 + n, plan: { crashAt: n }, powersafeOverwrite: true })
    let r: RunResult
    try {
      r = runWorkload(sim, wl, o)
    } catch (e) {
      failures.push(`seed ${seed} op ${n} (${durability}): the workload failed before the crash: ${describeError(e)}`)
      continue
    }
    if (!r.crashed) {
      failures.push(`seed ${seed} op ${n} (${durability}): no crash happened (the op count of the clean run was ${total})`)
      continue
    }
    stats.crashPoints++
    CRASH_MODES.forEach((mode: CrashMode, mi: number) => {
      const ctx = `seed ${seed} op ${n} mode ${mode} (${durability}, crash in ${r.where}, lastAcked ${r.lastAcked}, lastAttempted ${r.lastAttempted})`
      try {
        checkReopen(sim.crash(mode, seed * 1_000_003 + n * 16 + mi), r, wl, durability, ctx, preallocate)
      } catch (e) {
        failures.push(e instanceof Mismatch ? e.message : `${ctx}: ${describeError(e)}`)
      }
    })
  }
  stats.seeds++
  return { seed, durability, ops: total, commits: finalVersion, failures }
}

const contentsSize = (c: Contents): number => c.size

/**
 * Crash during recovery: take a crashed image, then crash again at every op of the
 * recovering open, the first commit after it and close, in every mode. The version found
 * at the first recovery (v) is durable (the image is), so the second reopen must give v
 * or v + 1 (v + 1 exactly once that commit was acknowledged with durability 'full'), with
 * exact contents, and never resurrect bytes of the torn tail the first recovery cut.
 */
async function doubleCrash(seed: number, firstModes: readonly CrashMode[], every: number, preallocate = 0): Promise<{ cases: number; failures: string[] }> {
  const durability = durabilityOf(seed)
  const o = { durability, preallocate }
  const wl = makeWorkload(seed, { commits: COMMITS, loadKeys: LOAD_KEYS })
  const clean = new SimFileIO({ seed, powersafeOverwrite: true })
  runWorkload(clean, wl, o)
  const total = clean.ops
  const failures: string[] = []
  let cases = 0
  for (let n = 1 + (seed % every); n <= total; n += every) {
    const sim = new SimFileIO({ seed: seed * 7919 + n, plan: { crashAt: n }, powersafeOverwrite: true })
    const r = runWorkload(sim, wl, o)
    if (r.lastAcked < 0) continue
    for (const [mi, mode1] of firstModes.entries()) {
      const image = sim.crash(mode1, seed * 31 + n * 8 + mi)
      // What a clean recovery finds, and how many ops recovery + one commit + close take.
      const probe = image.clone({ seed: 1, powersafeOverwrite: true })
      const pdb = openDb(probe, o)
      const v = pdb.version
      pdb.put('second/commit', Buffer.from('x'))
      pdb.close()
      const ops2 = probe.ops
      const want = new Map(wl.versions[v]!)
      want.set('second/commit', Buffer.from('x'))
      await yieldToEventLoop()
      for (let m = 1; m <= ops2; m++) {
        const s = image.clone({ seed: seed + m, plan: { crashAt: m }, powersafeOverwrite: true })
        let acked = false
        try {
          const db = openDb(s, o)
          db.put('second/commit', Buffer.from('x'))
          acked = durability === 'full'
          db.close()
          acked = true
        } catch (e) {
          if (!s.isCrashed) {
            failures.push(`seed ${seed} op ${n} mode ${mode1}, then crash at recovery op ${m}: ${describeError(e)}`)
            continue
          }
        }
        for (const [mj, mode2] of CRASH_MODES.entries()) {
          cases++
          const ctx = `seed ${seed} op ${n} mode ${mode1} (${durability}; recovered v${v}), then crash at recovery op ${m} mode ${mode2}`
          try {
            const after = s.crash(mode2, seed * 17 + m * 8 + mj)
            const db = openDb(after, o)
            const v2 = db.version
            if (v2 !== (acked ? v + 1 : v2) || v2 < v || v2 > v + 1) fail(ctx, `reopened at version ${v2}; allowed ${acked ? v + 1 : `${v}..${v + 1}`}`)
            checkContents(db, v2 === v ? wl.versions[v]! : want, `${ctx} v${v2}`)
            if (v2 > 0) checkContents(db.checkout(v2 - 1), wl.versions[v2 - 1]!, `${ctx} checkout(${v2 - 1})`)
            db.put('third/commit', Buffer.from('y'))
            db.close()
          } catch (e) {
            failures.push(e instanceof Mismatch ? e.message : `${ctx}: ${describeError(e)}`)
          }
        }
      }
    }
  }
  return { cases, failures }
}

describe('crash sweep (T1)', () => {
  afterAll(() => {
    console.log(
      `[crash-sweep] seeds ${stats.seeds} (base ${SEED_BASE}), crash points ${stats.crashPoints}, reopens checked ${stats.reopens} (all tests in this file)` +
        ` (creation crashes ${stats.creationCrashes}); outcomes: ${[...stats.byOutcome].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    )
  })

  it('self-test: the sweep notices an fsync that lies (every 3rd commit fsync does nothing)', () => {
    // Guards the harness itself: if this stops failing cases, the checks above went blind.
    const seed = 2
    const o = { durability: 'full' as const }
    const wl = makeWorkload(seed, { commits: 12, loadKeys: 30 })
    const liar = (sim: SimFileIO): FileIO => {
      let syncs = 0
      return layeredIO(sim, (h) => ({
        read: (b, p) => h.read(b, p),
        write: (b, p) => h.write(b, p),
        sync: () => {
          // The creation's and the open's fsyncs are honest; then every 3rd one lies.
          if (++syncs > 2 && syncs % 3 === 0) return
          h.sync()
        },
        truncate: (n) => h.truncate(n),
        size: () => h.size(),
        close: () => h.close(),
      }))
    }
    const clean = new SimFileIO({ seed, powersafeOverwrite: true })
    runWorkload(clean, wl, o, liar(clean))
    const saved = { ...stats, byOutcome: new Map(stats.byOutcome) }
    let caught = 0
    for (let n = 1; n <= clean.ops; n++) {
      const sim = new SimFileIO({ seed: n, plan: { crashAt: n }, powersafeOverwrite: true })
      const r = runWorkload(sim, wl, o, liar(sim))
      try {
        checkReopen(sim.crash('drop', n), r, wl, 'full', `self-test op ${n}`)
      } catch (e) {
        expect(e).toBeInstanceOf(Mismatch)
        expect((e as Error).message).toMatch(/reopened at version \d+; allowed/)
        caught++
      }
    }
    Object.assign(stats, saved)
    expect(caught).toBeGreaterThan(0)
  })

  it('a failed write (ENOSPC/EIO, retried) followed by a crash a few ops later recovers', { timeout: 600_000 }, async () => {
    const failures: string[] = []
    let cases = 0
    for (let i = 0; i < Math.max(3, Math.ceil(SEEDS / 5)); i++) {
      const seed = SEED_BASE + i
      const durability = durabilityOf(seed)
      const o = { durability }
      const wl = makeWorkload(seed, { commits: COMMITS, loadKeys: LOAD_KEYS })
      const writes: number[] = []
      const clean = new SimFileIO({ seed, powersafeOverwrite: true, onOp: (n, d) => void (d.startsWith('write') && writes.push(n)) })
      runWorkload(clean, wl, o)
      // Some commit writes (not creation's): the failing write leaves a random prefix, then the file is cut back.
      const picks = writes.filter((n) => n > 6).filter((_, j, a) => j % Math.max(1, Math.floor(a.length / 6)) === 0)
      for (const [pi, f] of picks.entries()) {
        await yieldToEventLoop()
        const failWith = pi % 2 === 0 ? 'ENOSPC' : 'EIO'
        for (let n = f + 1; n <= f + 7; n++) {
          const sim = new SimFileIO({ seed: seed * 131 + n, plan: { failAt: f, failWith, crashAt: n }, powersafeOverwrite: true })
          const log: RetryLog = { failures: [] }
          let r: RunResult
          try {
            r = runWorkload(sim, wl, o, undefined, log)
          } catch (e) {
            failures.push(`seed ${seed} write op ${f} fails with ${failWith}, crash at op ${n} (${durability}): the workload threw ${describeError(e)}`)
            continue
          }
          if (!r.crashed) continue
          // (0 when the crash hit while the failed write was being undone.)
          if (log.failures.length > 1) failures.push(`seed ${seed} write op ${f} (${failWith}): expected one failed commit, saw ${log.failures.length}`)
          for (const [mi, mode] of CRASH_MODES.entries()) {
            cases++
            const ctx = `seed ${seed} write op ${f} fails with ${failWith} (retried), crash at op ${n} mode ${mode} (${durability}, lastAcked ${r.lastAcked}, lastAttempted ${r.lastAttempted})`
            try {
              checkReopen(sim.crash(mode, seed * 71 + n * 8 + mi), r, wl, durability, ctx)
            } catch (e) {
              failures.push(e instanceof Mismatch ? e.message : `${ctx}: ${describeError(e)}`)
            }
          }
        }
      }
    }
    console.log(`[crash-sweep] ${cases} reopens checked after a failed write and a crash`)
    expect(cases).toBeGreaterThan(0)
    if (failures.length > 0) throw new Error(`${failures.length} failing cases:\n${failures.slice(0, 15).join('\n')}`)
  })

  const DOUBLE_SEEDS = Math.max(3, Math.ceil(SEEDS / 5))
  for (let i = 0; i < DOUBLE_SEEDS; i++) {
    const seed = SEED_BASE + i
    it(`seed ${seed} (${durabilityOf(seed)}): a crash during recovery (after a crash) recovers too`, { timeout: 600_000 }, async () => {
      const { cases, failures } = await doubleCrash(seed, ['torn', 'garbage', 'subset'], 9)
      console.log(`[crash-sweep] seed ${seed}: ${cases} double-crash reopens checked`)
      expect(cases).toBeGreaterThan(0)
      if (failures.length > 0) throw new Error(`${failures.length} failing double-crash cases:\n${failures.slice(0, 15).join('\n')}`)
    })
  }

  for (let i = 0; i < SEEDS; i++) {
    const seed = SEED_BASE + i
    it(`seed ${seed} (${durabilityOf(seed)}): every crash point x every crash mode recovers`, { timeout: 600_000 }, async () => {
      const rep = await sweepSeed(seed)
      const wl = makeWorkload(seed, { commits: COMMITS, loadKeys: LOAD_KEYS })
      expect(rep.ops).toBeGreaterThan(COMMITS)
      expect(contentsSize(wl.versions[wl.versions.length - 1]!)).toBeGreaterThan(0)
      if (rep.failures.length > 0) {
        throw new Error(`${rep.failures.length} failing crash cases:\n${rep.failures.slice(0, 15).join('\n')}`)
      }
    })
  }

  // The `preallocate` option: commits overwrite reserved zeros and extend them; a crash
  // leaves zeros (or a torn commit over them) after the last commit. 16 KiB: commits up to
  // 1 KiB extend the reserve, so extensions, overwrites and big commits past it all occur.
  for (const seed of [SEED_BASE, SEED_BASE + 1]) {
    it(`seed ${seed} (full, preallocate 16 KiB): every crash point x every crash mode recovers, and a crash during recovery too`, { timeout: 600_000 }, async () => {
      const rep = await sweepSeed(seed, 16 << 10)
      expect(rep.durability).toBe('full')
      const dbl = await doubleCrash(seed, ['torn', 'garbage'], 13, 16 << 10)
      expect(dbl.cases).toBeGreaterThan(0)
      const failures = [...rep.failures, ...dbl.failures]
      if (failures.length > 0) throw new Error(`${failures.length} failing crash cases:\n${failures.slice(0, 15).join('\n')}`)
    })
  }
})
