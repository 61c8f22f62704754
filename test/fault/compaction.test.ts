/**
 * Compaction under faults (FORMAT.md §11): a crash at every op of a compaction (and of the
 * commits around it, some made during the copy, from onProgress, so catch-up rounds run), in
 * every crash mode; and ENOSPC/EIO at every op of a compaction. Rules:
 *   - the reopened database is the complete old file or the complete new one: its newest
 *     version obeys the survival rule; every version it holds equals the model; the versions
 *     it lacks were dropped by the keep policy (never one it must keep) and checkout() of them
 *     throws ERR_VERSION_NOT_FOUND; once compact() returned, the new file is what survives;
 *   - a read-write open removes a leftover `<path>.compact`;
 *   - a failed compaction throws ERR_NO_SPACE/ERR_IO, removes its file, and leaves the
 *     database working on the old file (or, if only the directory fsync after the rename
 *     failed, on the new one, refusing writes with ERR_IO until reopened).
 */
import { describe, expect, it } from 'vitest'
import { CambiumError, type Durability } from '../../src/index.js'
import type { KeepPolicy } from '../../src/db/compaction.js'
import { Rng } from '../helpers/rng.js'
import { CRASH_MODES, SimFileIO } from '../helpers/sim-file-io.js'
import {
  applyStep,
  checkContents,
  DB_PATH,
  describeError,
  makeValue,
  Mismatch,
  openDb,
  planFrom,
  yieldToEventLoop,
  type Db,
  type Workload,
  type WriteStep,
} from './workload.js'

const rng = new Rng(8080)
const val = (n: number): Buffer => makeValue(rng, n)
const key = (i: number): string => `k/${String(i).padStart(3, '0')}`

/** Before the compaction: a load and a dozen small commits (overwrites: dead bytes to drop). */
const before: WriteStep[] = [
  { t: 'batch', ops: Array.from({ length: 60 }, (_, i) => ({ t: 'put' as const, k: key(i), v: val(i % 10 === 3 ? 300 : 30) })) },
  ...Array.from({ length: 12 }, (_, i): WriteStep => (i % 4 === 3 ? { t: 'del', k: key(i * 3) } : { t: 'put', k: key((i * 7) % 60), v: val(i % 5 === 0 ? 280 : 20) })),
  { t: 'rollback', to: 5 },
]
/** Commits made from onProgress while the compaction copies: 18 at the first call (more than
 *  one small round, so a catch-up round runs), 3 at the second. */
const during: WriteStep[][] = [
  Array.from({ length: 18 }, (_, i): WriteStep => ({ t: 'put', k: key(60 + (i % 9)), v: val(i === 4 ? 400 : 15) })),
  [{ t: 'del', k: key(61) }, { t: 'put', k: 'during/x', v: val(33) }, { t: 'batch', ops: [{ t: 'put', k: key(1), v: val(2) }, { t: 'del', k: key(2) }] }],
]
const after: WriteStep[] = [
  { t: 'put', k: 'after/1', v: val(40) },
  { t: 'del', k: key(10) },
]
const WL: Workload = planFrom([...before, ...during.flat(), ...after])
const V_COMPACT = before.length // the version when the compaction starts
const LAST = WL.versions.length - 1

interface Run {
  lastAcked: number
  lastAttempted: number
  /** compact() returned */
  compacted: boolean
  crashed: boolean
}

/** Plays before / compact (with `during` from onProgress) / after on `sim` until it crashes. */
function play(sim: SimFileIO, keep: KeepPolicy, durability: Durability, withDuring: boolean): Run {
  const run: Run = { lastAcked: -1, lastAttempted: 0, compacted: false, crashed: false }
  const step = (db: Db, s: WriteStep): void => {
    run.lastAttempted = run.lastAcked + 1
    const v = applyStep(db, s)
    if (v !== run.lastAttempted) throw new Error(`step returned version ${v}, expected ${run.lastAttempted}`)
    run.lastAcked = v
  }
  let db: Db | undefined
  try {
    db = openDb(sim, { durability })
    run.lastAcked = 0
    for (const s of before) step(db, s)
    let calls = 0
    const d = db
    d.compact({
      keep,
      onProgress: () => {
        const batch = withDuring ? during[calls++] : undefined
        if (batch !== undefined) for (const s of batch) step(d, s)
      },
    })
    run.lastAttempted = run.lastAcked
    // compact() also returns when its directory fsync failed (here: the crash hit it), with
    // the handle poisoned (BUG-F3): only a swap whose directory fsync succeeded counts.
    run.compacted = !sim.isCrashed
    if (withDuring && calls < during.length) throw new Error(`onProgress was called ${calls} times; the test needs ${during.length}`)
    for (const s of after) step(db, s)
    run.lastAttempted = run.lastAcked
    db.close()
  } catch (e) {
    if (!sim.isCrashed) throw e
    run.crashed = true
  }
  return run
}

/** Versions (of those ever committed up to `v`) that a compacted file must still hold. */
function mustKeep(keep: KeepPolicy, v: number, compacted: boolean): (u: number) => boolean {
  if (!compacted || keep === 'all') return () => true
  if (typeof keep === 'object' && 'since' in keep && typeof keep.since === 'number') {
    const s = keep.since
    return (u) => u >= s || u > V_COMPACT
  }
  // 'latest': the newest version at the start, the last of each catch-up round, and the
  // commits after the compaction: check the newest and those after.
  return (u) => u === v || u > V_COMPACT + during.flat().length
}

function checkDb(db: Db, r: Run, keep: KeepPolicy, durability: Durability, ctx: string): number {
  const v = db.version
  // Once compact() returned, the new file (fsynced, renamed, directory fsynced) holds every
  // commit up to the end of the compaction, whatever the durability.
  const lo = Math.max(durability === 'full' ? r.lastAcked : 0, r.compacted ? V_COMPACT + during.flat().length : 0, 0)
  if (v < lo || v > r.lastAttempted) throw new Mismatch(`${ctx}: reopened at version ${v}; allowed ${lo}..${r.lastAttempted}`)
  checkContents(db, WL.versions[v]!, `${ctx} latest v${v}`, WL.probeKeys)
  const held = new Set([...db.history()].map((c) => c.version))
  if (!held.has(v)) throw new Mismatch(`${ctx}: history() lacks the newest version ${v}`)
  // The old file holds every version; a compacted one (gaps) what its policy kept.
  const compacted = [...Array(v + 1).keys()].some((u) => !held.has(u))
  if (compacted && v < V_COMPACT) throw new Mismatch(`${ctx}: versions missing at v${v}, before any compaction`)
  if (r.compacted && !compacted && keep !== 'all') {
    throw new Mismatch(`${ctx}: compact() returned, but the reopened file still holds every version (the old file came back)`)
  }
  const must = mustKeep(keep, v, compacted)
  for (let u = 0; u <= v; u++) {
    if (held.has(u)) {
      checkContents(db.checkout(u), WL.versions[u]!, `${ctx} checkout(${u})`)
    } else {
      if (must(u)) throw new Mismatch(`${ctx}: version ${u} is gone, but keep ${JSON.stringify(keep)} must keep it`)
      try {
        db.checkout(u)
        throw new Mismatch(`${ctx}: checkout(${u}) works, but history() does not list version ${u}`)
      } catch (e) {
        if (e instanceof Mismatch) throw e
        if (!(e instanceof CambiumError && e.code === 'ERR_VERSION_NOT_FOUND')) throw new Mismatch(`${ctx}: checkout(${u}) threw ${describeError(e)}`)
      }
    }
  }
  return v
}

const KEEPS: KeepPolicy[] = ['latest', 'all', { since: 6 }]

describe('compaction under faults', () => {
  let reopens = 0
  for (const durability of ['full', 'none'] as const) {
    for (const keep of KEEPS) {
      it(`crash at every op of a compaction with commits during it (keep ${JSON.stringify(keep)}, ${durability}), every mode`, async () => {
        const clean = new SimFileIO({ seed: 1, powersafeOverwrite: true })
        const r0 = play(clean, keep, durability, true)
        expect(r0.crashed).toBe(false)
        expect(r0.lastAcked).toBe(LAST)
        const total = clean.ops
        const check = openDb(clean.crash('drop', 1), { durability })
        checkDb(check, r0, keep, durability, 'clean run')
        check.close()
        // Ops before the compaction starts: a run without it.
        const probe = new SimFileIO({ seed: 1, powersafeOverwrite: true })
        const pdb = openDb(probe, { durability })
        for (const s of before) applyStep(pdb, s)
        const start = probe.ops
        const failures: string[] = []
        for (let n = start + 1; n <= total; n++) {
          await yieldToEventLoop()
          const sim = new SimFileIO({ seed: n, plan: { crashAt: n }, powersafeOverwrite: true })
          const r = play(sim, keep, durability, true)
          if (!r.crashed) {
            failures.push(`op ${n}: no crash`)
            continue
          }
          for (const [mi, mode] of CRASH_MODES.entries()) {
            const ctx = `compaction keep ${JSON.stringify(keep)} (${durability}) crash at op ${n}/${total} mode ${mode} (lastAcked ${r.lastAcked}, lastAttempted ${r.lastAttempted}, compact() returned: ${r.compacted})`
            try {
              const s2 = sim.crash(mode, n * 8 + mi)
              const ro = openDb(s2, { durability, readOnly: true })
              checkDb(ro, r, keep, durability, `${ctx} read-only`)
              ro.close()
              const db = openDb(s2, { durability })
              const v = checkDb(db, r, keep, durability, ctx)
              const left = s2.listFiles().filter((f) => f !== DB_PATH)
              if (left.length > 0) throw new Mismatch(`${ctx}: files left after a read-write open: ${left.join(', ')}`)
              if (db.put('new', Buffer.from('n')) !== v + 1) throw new Mismatch(`${ctx}: new commit is not v${v + 1}`)
              db.close()
              const again = openDb(s2.crash('drop', 3), { durability, readOnly: true })
              if (again.version !== v + 1) throw new Mismatch(`${ctx}: the new commit did not survive (v${again.version})`)
              again.close()
              reopens++
            } catch (e) {
              failures.push(e instanceof Mismatch ? e.message : `${ctx}: ${describeError(e)}`)
            }
          }
        }
        if (failures.length > 0) throw new Error(`${failures.length} failing cases:\n${failures.slice(0, 12).join('\n')}`)
      })
    }
  }

  it('ENOSPC/EIO at every op of a compaction: a clean failure, the database keeps working', () => {
    for (const keep of KEEPS) {
      const probe = new SimFileIO({ seed: 1, powersafeOverwrite: true })
      const pdb = openDb(probe, { durability: 'full' })
      for (const s of before) applyStep(pdb, s)
      const o0 = probe.ops
      pdb.compact({ keep })
      const opsC = probe.ops - o0
      pdb.close()
      expect(opsC).toBeGreaterThanOrEqual(5)
      const wl = planFrom([...before, after[0]!])
      for (let k = 1; k <= opsC; k++) {
        for (const errno of ['ENOSPC', 'EIO'] as const) {
          const ctx = `compaction keep ${JSON.stringify(keep)}: op ${k}/${opsC} fails with ${errno}`
          const sim = new SimFileIO({ seed: k, powersafeOverwrite: true })
          const db = openDb(sim, { durability: 'full' })
          for (const s of before) applyStep(db, s)
          sim.setPlan({ failAt: sim.ops + k, failWith: errno })
          ioFaults++
          let threw: unknown
          try {
            db.compact({ keep })
          } catch (e) {
            threw = e
          }
          sim.setPlan({})
          expect(db.version, ctx).toBe(V_COMPACT)
          checkContents(db, wl.versions[V_COMPACT]!, ctx, wl.probeKeys)
          expect(sim.listFiles().filter((f) => f !== DB_PATH), `${ctx}: leftover files`).toEqual([])
          let poisoned = false
          let swapped = false
          if (threw !== undefined) {
            expect(threw instanceof CambiumError && ['ERR_IO', 'ERR_NO_SPACE'].includes(threw.code), `${ctx}: ${describeError(threw)}`).toBe(true)
            const held = [...db.history()].map((c) => c.version)
            if (held.length === V_COMPACT + 1) {
              // The old file, all versions, and it still takes commits.
              for (let u = 0; u <= V_COMPACT; u++) checkContents(db.checkout(u), wl.versions[u]!, `${ctx} checkout(${u})`)
            } else {
              // Only the directory fsync after the rename may fail once the new file is in place:
              // the handle reads the new file, and refuses writes (ERR_IO) until reopened.
              swapped = true
              expect((threw as CambiumError).code, ctx).toBe('ERR_IO')
              expect((threw as Error).message, ctx).toMatch(/directory fsync/)
              for (const u of held) checkContents(db.checkout(u), wl.versions[u]!, `${ctx} checkout(${u})`)
            }
          }
          try {
            expect(applyStep(db, after[0]!), ctx).toBe(V_COMPACT + 1)
          } catch (e) {
            // Only a failed directory fsync after the swap may refuse writes (compact() then reports success).
            if (!(e instanceof CambiumError && e.code === 'ERR_IO')) throw e
            poisoned = true
          }
          db.close()
          expect(sim.openHandleCount, ctx).toBe(0)
          const again = openDb(sim.crash('drop', k), { durability: 'full' })
          expect(again.version, ctx).toBe(poisoned ? V_COMPACT : V_COMPACT + 1)
          checkContents(again, wl.versions[again.version]!, ctx, wl.probeKeys)
          again.close()
          if (swapped) expect(poisoned, `${ctx}: the swap's directory fsync failed, yet writes were accepted`).toBe(true)
          if (poisoned) syncDirFailures.push(`${ctx}: compact() ${threw === undefined ? 'returned success' : `threw ${describeError(threw)}`}, later writes ERR_IO`)
        }
      }
    }
    console.log(`[compaction] ${reopens} crash reopens checked; ${ioFaults} injected ENOSPC/EIO failures; directory-fsync failures: ${syncDirFailures.length}${syncDirFailures.length > 0 ? `\n  ${syncDirFailures.slice(0, 3).join('\n  ')}` : ''}`)
  })
})

const syncDirFailures: string[] = []
let ioFaults = 0
