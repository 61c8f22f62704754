/**
 * Compaction under power loss and I/O errors (SimFileIO, powersafeOverwrite).
 *
 * Crash sweep: a multi-version database (the seeded workload of test/fault, or one with large
 * out-of-line values whose compacted file spans several 4 MiB flushes and an intermediate fsync)
 * is compacted, then one commit is made on the compacted file and the handle closed. A clean run
 * counts the ops; then for every op N and every crash mode the run crashes before op N and the
 * image is reopened. It must hold either the complete old file (every version, as before) or the
 * complete new one (the versions the policy keeps, plus the new commit if it landed), with the
 * latest contents identical; once compact() returned, only the new one; once the commit was
 * acknowledged (durability 'full'), the commit. After the read-write open no `.compact` is left,
 * a commit works, and a second compaction works.
 *
 * Faults: ENOSPC / EIO injected at every op of a compaction: compact() throws that CambiumError
 * (ERR_NO_SPACE / ERR_IO), the database is unchanged and keeps committing, no `.compact` is
 * left, and a retry succeeds. Except at the directory fsync after the rename (FORMAT.md §11.5):
 * ERR_IO, the handle refuses commits, and a reopen (with or without a power loss) is consistent.
 * freeSpace() below the need: ERR_NO_SPACE before any op. (A disk failing every op, cleanup
 * included, is regressions.test.ts C2.)
 */
import { describe, expect, it } from 'vitest'
import { open, type KeepPolicy } from '../../src/index.js'
import { CRASH_MODES, SimFileIO, type InjectedErrno } from '../helpers/sim-file-io.js'
import { Rng } from '../helpers/rng.js'
import { makeValue, makeWorkload, runWorkload, type Contents } from '../fault/workload.js'
import {
  checkContents,
  describeError,
  describeKeep,
  expectCode,
  fail,
  fmtList,
  historyOf,
  isCambium,
  Mismatch,
  policyKeeps,
  sameList,
  type Db,
} from './helpers.js'

const DB = '/data/fault.cambium'
const MARK = 'after/compaction'

interface Base {
  name: string
  image: SimFileIO
  versions: Contents[]
  durability: 'full' | 'none'
  /** check every version in one crash mode only */
  large?: boolean
}

const openDb = (sim: SimFileIO, durability: 'full' | 'none', extra: { readOnly?: boolean } = {}): Db =>
  open(DB, { fileIO: sim, keyEncoding: 'utf8', durability, nodeSize: 512, ...extra }) as Db

/** The fault workload (load batches, puts, deletes, txs, rollbacks), closed cleanly. */
function workloadBase(seed: number, durability: 'full' | 'none'): Base {
  const wl = makeWorkload(seed, { commits: 30, loadKeys: 80 })
  const sim = new SimFileIO({ seed, powersafeOverwrite: true })
  const r = runWorkload(sim, wl, { durability })
  expect(r.crashed).toBe(false)
  return { name: `workload seed ${seed} (${durability})`, image: sim.crash('drop', seed), versions: wl.versions, durability }
}

let largeCache: Base | undefined
/** Large out-of-line values: the compacted file is > 8 MiB with keep 'all' (several 4 MiB flushes and an fsync along the way). */
function largeBase(): Base {
  return (largeCache ??= makeLargeBase())
}
function makeLargeBase(): Base {
  const rng = new Rng(99)
  const sim = new SimFileIO({ seed: 99, powersafeOverwrite: true })
  const db = openDb(sim, 'full')
  const versions: Contents[] = [new Map()]
  for (let c = 0; c < 12; c++) {
    const m = new Map(versions[versions.length - 1]!)
    const ops = Array.from({ length: 8 }, (_, i) => {
      const k = `big/${String((c * 5 + i) % 40).padStart(3, '0')}`
      const v = makeValue(rng, 90_000 + rng.int(30_000))
      m.set(k, v)
      return { type: 'put' as const, key: k, value: v }
    })
    if (c % 4 === 3) {
      const k = [...m.keys()][rng.int(m.size)]!
      m.delete(k)
      ops.push({ type: 'del' as const, key: k } as never)
    }
    expect(db.batch(ops)).toBe(versions.length)
    versions.push(m)
  }
  db.close()
  return { name: 'large values (12 versions, ~12 MiB)', image: sim.crash('drop', 5), versions, durability: 'full', large: true }
}

interface CleanRun {
  /** op count of compaction + commit + close, relative to the ops after open */
  ops: number
  before: number[]
  kept: number[]
  latest: number
}

interface Attempt {
  /** compact() returned */
  compacted: boolean
  /** the commit after it returned */
  acked: boolean
  crashed: boolean
}

/** Opens `sim`, arms `crashAt` (relative to the ops after the open), compacts, commits, closes. */
function attempt(sim: SimFileIO, b: Base, keep: KeepPolicy, crashAt: number | undefined): Attempt {
  const db = openDb(sim, b.durability)
  if (crashAt !== undefined) sim.setPlan({ crashAt: sim.ops + crashAt })
  const a: Attempt = { compacted: false, acked: false, crashed: false }
  try {
    db.compact({ keep })
    // A crash at the directory fsync is swallowed by compact() (it poisons the handle and
    // returns, FORMAT.md §11.5); a real process would be dead by then, so it did not "return".
    a.compacted = !sim.isCrashed
    db.put(MARK, Buffer.from('x'))
    a.acked = true
    db.close()
  } catch (e) {
    if (!sim.isCrashed) throw e
    a.crashed = true
  }
  return a
}

function cleanRun(b: Base, keep: KeepPolicy): CleanRun {
  const sim = b.image.clone({ seed: 1, powersafeOverwrite: true })
  const db = openDb(sim, b.durability)
  const hist = historyOf(db)
  const latest = db.version
  db.close()
  const kept = policyKeeps(hist, keep)
  const s2 = b.image.clone({ seed: 1, powersafeOverwrite: true })
  const db2 = openDb(s2, b.durability)
  const start = s2.ops
  db2.compact({ keep })
  db2.put(MARK, Buffer.from('x'))
  db2.close()
  return { ops: s2.ops - start, before: hist.map((h) => h.version), kept, latest }
}

/** Checks a reopened crash image; returns which file it found. */
function checkCrashed(sim: SimFileIO, b: Base, c: CleanRun, a: Attempt, ctx: string, full: boolean): 'old' | 'new' | 'new+commit' {
  const withMark = new Map(b.versions[c.latest]!)
  withMark.set(MARK, Buffer.from('x'))
  const want = (v: number): Contents => (v === c.latest + 1 ? withMark : b.versions[v]!)

  // A read-only open first (it leaves any .compact alone) must see a consistent database too.
  const ro = openDb(sim, b.durability, { readOnly: true })
  const roHist = historyOf(ro).map((h) => h.version)
  if (full) checkContents(ro, want(ro.version), `${ctx}: read-only latest v${ro.version}`)
  ro.close()

  const db = openDb(sim, b.durability)
  try {
    const left = sim.listFiles().filter((f) => f.endsWith('.compact'))
    if (left.length > 0) fail(`${ctx}: ${left.join(', ')} still there after a read-write open`)
    const hist = historyOf(db).map((h) => h.version)
    if (!sameList(hist, roHist)) fail(`${ctx}: the read-only open saw ${fmtList(roHist)}, the read-write open ${fmtList(hist)}`)
    let found: 'old' | 'new' | 'new+commit'
    if (sameList(hist, c.before)) found = 'old'
    else if (sameList(hist, c.kept)) found = 'new'
    else if (sameList(hist, [...c.kept, c.latest + 1])) found = 'new+commit'
    else fail(`${ctx}: reopened with versions ${fmtList(hist)}; the old file has ${fmtList(c.before)}, the new one ${fmtList(c.kept)} (+ ${c.latest + 1})`)
    // With keep 'all' the two files list the same versions: tell them apart by the header's baseSize.
    if (found === 'old' && sameList(c.before, c.kept)) {
      const base = Buffer.from(sim.fileBytes(DB).subarray(40, 48)).readBigUInt64LE()
      if (base !== 0n) found = 'new'
    }
    if (a.compacted && found === 'old') fail(`${ctx}: compact() had returned, but the old file came back`)
    if (a.acked && b.durability === 'full' && found !== 'new+commit') fail(`${ctx}: the commit after compaction was acknowledged but is lost (found ${found})`)
    if (db.version !== hist[hist.length - 1]) fail(`${ctx}: db.version ${db.version}, history ends at ${hist[hist.length - 1]}`)
    checkContents(db, want(db.version), `${ctx}: latest v${db.version}`, 'all')
    for (let v = 0; v <= c.latest + 1; v++) {
      if (hist.includes(v)) {
        // Large bases: every version in one mode, the oldest kept one otherwise (they share most values).
        if (full || v === hist[0]) checkContents(db.checkout(v), want(v), `${ctx}: checkout(${v})`)
      } else if (v <= c.latest) expectCode(() => db.checkout(v), 'ERR_VERSION_NOT_FOUND', `${ctx}: checkout(${v}) of a dropped version`)
    }
    // A new commit, then a second compaction, then a power loss: all there.
    const nv = db.put('after/crash', Buffer.from(ctx))
    if (nv !== db.version || nv !== hist[hist.length - 1]! + 1) fail(`${ctx}: the first commit after the crash returned ${nv}`)
    const r = db.compact({ keep: 'latest' })
    if (r.versionsKept !== 1 || r.lastVersion !== nv) fail(`${ctx}: the second compaction kept ${r.versionsKept} versions up to ${r.lastVersion}`)
    db.close()
    const after = sim.crash('drop', 3)
    if (after.listFiles().some((f) => f.endsWith('.compact'))) fail(`${ctx}: a .compact file survived the second compaction`)
    const db2 = openDb(after, b.durability)
    const w = new Map(want(nv - 1))
    w.set('after/crash', Buffer.from(ctx))
    if (db2.version !== nv) fail(`${ctx}: after the second compaction and a power loss the version is ${db2.version}, expected ${nv}`)
    checkContents(db2, w, `${ctx}: after the second compaction`, 'all')
    expect(historyOf(db2).map((h) => h.version)).toEqual([nv])
    db2.close()
    return found
  } finally {
    if (db.isOpen) db.close()
  }
}

const KEEPS: KeepPolicy[] = ['latest', 'all', { since: 60 }]

describe('compaction crash sweep', () => {
  const outcomes = new Map<string, number>()
  const bump = (k: string): void => void outcomes.set(k, (outcomes.get(k) ?? 0) + 1)

  const bases: Array<[string, () => Base, KeepPolicy[]]> = [
    ['workload seed 1 (full)', () => workloadBase(1, 'full'), KEEPS],
    ['workload seed 2 (full)', () => workloadBase(2, 'full'), KEEPS],
    ['workload seed 3 (none)', () => workloadBase(3, 'none'), KEEPS],
    // The costly one (~3 s per crash point): keep 'all' is the case with several flushes and an intermediate fsync.
    ['large values', largeBase, ['all']],
  ]
  for (const [name, make, keeps] of bases) {
    it(`${name}: a crash at every op of compact + commit + close, in every mode, leaves the old or the new file`, { timeout: 300_000 }, () => {
      const b = make()
      const failures: string[] = []
      let points = 0
      for (const keep of keeps) {
        const c = cleanRun(b, keep)
        expect(c.ops).toBeGreaterThan(4)
        for (let n = 1; n <= c.ops; n++) {
          const sim = b.image.clone({ seed: n, powersafeOverwrite: true })
          const a = attempt(sim, b, keep, n)
          if (!a.crashed) {
            failures.push(`${b.name} keep ${describeKeep(keep)} op ${n}: no crash (clean run had ${c.ops} ops)`)
            continue
          }
          points++
          CRASH_MODES.forEach((mode, mi) => {
            const ctx = `${b.name} keep ${describeKeep(keep)} crash at op ${n}/${c.ops} mode ${mode} (compacted ${a.compacted}, acked ${a.acked})`
            try {
              bump(`${checkCrashed(sim.crash(mode, n * 8 + mi), b, c, a, ctx, !b.large || mode === 'torn')}`)
            } catch (e) {
              failures.push(e instanceof Mismatch ? e.message : `${ctx}: ${describeError(e)}`)
            }
          })
        }
      }
      console.log(`[compaction crash] ${b.name}: ${points} crash points x ${CRASH_MODES.length} modes; outcomes so far ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`)
      if (failures.length > 0) throw new Error(`${failures.length} failing cases:\n${failures.slice(0, 12).join('\n')}`)
    })
  }
})

describe('compaction under I/O errors', () => {
  const cases: Array<[string, () => Base, KeepPolicy]> = [
    ['large values', largeBase, 'all'],
    ['workload seed 4', () => workloadBase(4, 'full'), 'latest'],
    ['workload seed 4', () => workloadBase(4, 'full'), { since: 60 }],
  ]
  for (const errno of ['ENOSPC', 'EIO'] as InjectedErrno[]) {
    for (const [bname, make, keep] of cases) {
      if (errno === 'EIO' && make === largeBase) continue
      it(`${errno} at every op of a compaction (${bname}, keep ${describeKeep(keep)}): ${errno === 'ENOSPC' ? 'ERR_NO_SPACE' : 'ERR_IO'}, nothing changed, still usable`, () => {
        const b = make()
        const code = errno === 'ENOSPC' ? 'ERR_NO_SPACE' : 'ERR_IO'
        // Ops of a clean compaction, with their names.
        const names: string[] = []
        {
          const s = b.image.clone({ seed: 1, powersafeOverwrite: true, onOp: (_n, d) => names.push(d) })
          const db = openDb(s, 'full')
          names.length = 0
          db.compact({ keep })
          db.close()
        }
        const compactOps = names.findIndex((d) => d.startsWith('syncDir')) + 1
        expect(compactOps).toBeGreaterThan(4)
        const failures: string[] = []
        const notes: string[] = []
        for (let n = 1; n <= compactOps; n++) {
          const sim = b.image.clone({ seed: n, powersafeOverwrite: true })
          const db = openDb(sim, 'full')
          const before = historyOf(db).map((h) => h.version)
          const latest = db.version
          sim.setPlan({ failAt: sim.ops + n, failWith: errno })
          const ctx = `${errno} at op ${n}/${compactOps} (${names[n - 1]}) keep ${describeKeep(keep)}`
          try {
            let threw: unknown
            try {
              db.compact({ keep })
            } catch (e) {
              threw = e
            }
            sim.setPlan({})
            const isDirSync = names[n - 1]!.startsWith('syncDir')
            if (isDirSync) {
              // The rename is done but maybe not durable (FORMAT.md §11.5): compact() throws ERR_IO
              // (whatever the errno: the handle is poisoned), later commits are refused until a
              // reopen, and the reopened database (old or new file) has the latest contents.
              if (!isCambium(threw, 'ERR_IO')) fail(`${ctx}: compact() ${threw === undefined ? 'returned' : `threw ${describeError(threw)}`}; expected ERR_IO for a failed directory fsync after the rename`)
              expectCode(() => db.put('after/fault', Buffer.from('x')), 'ERR_IO', `${ctx}: a commit after the failed directory fsync`)
              db.close()
              // As it is now (the rename visible), and after a power loss (the rename maybe lost).
              for (const s2 of [sim.clone({ seed: 1, powersafeOverwrite: true }), sim.crash('drop', n)]) {
                const db2 = openDb(s2, 'full')
                checkContents(db2, b.versions[latest]!, `${ctx}: reopened`, 'all')
                const h = historyOf(db2).map((x) => x.version)
                if (!sameList(h, before) && !sameList(h, policyKeeps(before.map((v) => ({ version: v, time: 0 })), keep))) {
                  fail(`${ctx}: reopened with versions ${fmtList(h)}`)
                }
                expect(db2.put('after/reopen', Buffer.from('y'))).toBe(latest + 1)
                db2.close()
                if (s2.listFiles().some((f) => f.endsWith('.compact'))) fail(`${ctx}: a .compact file is left`)
              }
              notes.push(`${ctx}: compact() threw ERR_IO, the handle refused commits, reopen fine`)
              continue
            }
            if (!isCambium(threw, code)) fail(`${ctx}: compact() threw ${describeError(threw)}, expected CambiumError ${code}`)
            const left = sim.listFiles().filter((f) => f.endsWith('.compact'))
            if (left.length > 0) fail(`${ctx}: ${left.join(', ')} left behind`)
            const after = historyOf(db).map((h) => h.version)
            if (!sameList(after, before)) fail(`${ctx}: history changed from ${fmtList(before)} to ${fmtList(after)}`)
            checkContents(db, b.versions[latest]!, `${ctx}: latest`, 'all')
            checkContents(db.checkout(1), b.versions[1]!, `${ctx}: checkout(1)`)
            const v = db.put('after/fault', Buffer.from('x'))
            if (v !== latest + 1) fail(`${ctx}: the commit after the fault returned ${v}`)
            const r = db.compact({ keep })
            if (r.lastVersion !== v) fail(`${ctx}: the retried compaction ended at ${r.lastVersion}`)
            db.close()
            const reopened = openDb(sim.crash('drop', n), 'full')
            const w = new Map(b.versions[latest]!)
            w.set('after/fault', Buffer.from('x'))
            checkContents(reopened, w, `${ctx}: after retry and power loss`)
            reopened.close()
          } catch (e) {
            failures.push(e instanceof Mismatch ? e.message : `${ctx}: ${describeError(e)}`)
          } finally {
            if (db.isOpen) db.close()
          }
        }
        if (notes.length > 0) console.log(`[compaction faults] ${notes.join('\n')}`)
        if (failures.length > 0) throw new Error(`${failures.length} failing cases:\n${failures.slice(0, 12).join('\n')}`)
      })
    }
  }

  it('freeSpace() below what the new file needs: ERR_NO_SPACE before anything is written', () => {
    const b = workloadBase(5, 'full')
    const size = b.image.fileBytes(DB).length
    for (const [keep, need] of [
      ['all', size],
      ['latest', undefined],
    ] as Array<[KeepPolicy, number | undefined]>) {
      const probe = openDb(b.image.clone(), 'full')
      const treeBytes = [...probe.history({ reverse: true, limit: 1 })][0]!.treeBytes
      probe.close()
      const needed = need ?? treeBytes + (1 << 20)
      for (const free of [0, 100, needed - 1]) {
        const sim = b.image.clone({ seed: 1, powersafeOverwrite: true, freeBytes: free })
        const db = openDb(sim, 'full')
        const ops = sim.ops
        const before = historyOf(db).map((h) => h.version)
        expectCode(() => db.compact({ keep }), 'ERR_NO_SPACE', `keep ${describeKeep(keep)} with ${free} bytes free (needs ${needed})`)
        expect(sim.ops, 'no op was performed').toBe(ops)
        expect(sim.listFiles().filter((f) => f.endsWith('.compact'))).toEqual([])
        expect(historyOf(db).map((h) => h.version)).toEqual(before)
        expect(db.put('k', Buffer.from('v'))).toBe(before[before.length - 1]! + 1)
        db.close()
      }
      // With enough room it runs.
      const sim = b.image.clone({ seed: 1, powersafeOverwrite: true, freeBytes: needed + 200 })
      const db = openDb(sim, 'full')
      db.compact({ keep })
      db.close()
    }
  })
})
