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
import { COMMIT_RECORD_SIZE, type Durability } from '../../src/index.js'
import { CRASH_MODES, SimFileIO, type CrashMode } from '../helpers/sim-file-io.js'
import {
  checkAllVersions,
  checkContents,
  DB_PATH,
  describeError,
  isCambium,
  makeWorkload,
  Mismatch,
  openDb,
  runWorkload,
  type Contents,
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
function checkReopen(sim: SimFileIO, res: RunResult, wl: Workload, durability: Durability, ctx: string): void {
  const o = { durability }
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

  if (sim.exists(DB_PATH)) {
    let ro
    try {
      ro = openDb(sim, { ...o, readOnly: true })
    } catch (e) {
      fail(ctx, `read-only open threw ${describeError(e)}`)
    }
    const v = ro.version
    if (v > res.lastAttempted) fail(ctx, `read-only open found version ${v}, but the last commit attempted was ${res.lastAttempted}`)
    checkContents(ro, wl.versions[v]!, `${ctx} read-only v${v}`)
    ro.close()
  }
  const roVersion = sim.exists(DB_PATH) ? undefined : 0

  let db
  try {
    db = openDb(sim, o)
  } catch (e) {
    fail(ctx, `open threw ${describeError(e)}`)
  }
  const v = db.version
  const lo = durability === 'full' ? Math.max(0, res.lastAcked) : 0
  if (v < lo || v > res.lastAttempted) {
    fail(ctx, `reopened at version ${v}; allowed ${lo}..${res.lastAttempted} (lastAcked ${res.lastAcked}, durability ${durability})`)
  }
  if (roVersion !== undefined && v !== 0) fail(ctx, `created fresh but at version ${v}`)
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

function sweepSeed(seed: number): SeedReport {
  const durability = durabilityOf(seed)
  const wl = makeWorkload(seed, { commits: COMMITS, loadKeys: LOAD_KEYS })
  const failures: string[] = []

  // Clean run: count the ops and check the result.
  const clean = new SimFileIO({ seed, powersafeOverwrite: true })
  const res = runWorkload(clean, wl, { durability })
  expect(res.crashed).toBe(false)
  const total = clean.ops
  const finalVersion = wl.versions.length - 1
  expect(res.lastAcked).toBe(finalVersion)
  const check = openDb(clean.crash('drop', seed), { durability })
  checkAllVersions(check, wl.versions, `seed ${seed} clean run`, wl.probeKeys, true)
  expect(check.version).toBe(finalVersion)
  check.close()

  for (let n = 1; n <= total; n++) {
    const sim = new SimFileIO({ seed: seed * 7919 + n, plan: { crashAt: n }, powersafeOverwrite: true })
    let r: RunResult
    try {
      r = runWorkload(sim, wl, { durability })
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
        checkReopen(sim.crash(mode, seed * 1_000_003 + n * 16 + mi), r, wl, durability, ctx)
      } catch (e) {
        failures.push(e instanceof Mismatch ? e.message : `${ctx}: ${describeError(e)}`)
      }
    })
  }
  stats.seeds++
  return { seed, durability, ops: total, commits: finalVersion, failures }
}

const contentsSize = (c: Contents): number => c.size

describe('crash sweep (T1)', () => {
  afterAll(() => {
    console.log(
      `[crash-sweep] seeds ${stats.seeds} (base ${SEED_BASE}), crash points ${stats.crashPoints}, reopens checked ${stats.reopens}` +
        ` (creation crashes ${stats.creationCrashes}); outcomes: ${[...stats.byOutcome].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    )
  })

  for (let i = 0; i < SEEDS; i++) {
    const seed = SEED_BASE + i
    it(`seed ${seed} (${durabilityOf(seed)}): every crash point x every crash mode recovers`, { timeout: 600_000 }, () => {
      const rep = sweepSeed(seed)
      const wl = makeWorkload(seed, { commits: COMMITS, loadKeys: LOAD_KEYS })
      expect(rep.ops).toBeGreaterThan(COMMITS)
      expect(contentsSize(wl.versions[wl.versions.length - 1]!)).toBeGreaterThan(0)
      if (rep.failures.length > 0) {
        throw new Error(`${rep.failures.length} failing crash cases:\n${rep.failures.slice(0, 15).join('\n')}`)
      }
    })
  }
})
