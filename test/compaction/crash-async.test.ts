/**
 * Power loss during an online compaction: compactAsync copies in tiny slices while a writer
 * commits between them (so catch-up rounds run), then a few commits follow on the new file.
 * For every op N of that run (the op sequence depends on timing, so each N is whatever op comes
 * N-th in that attempt) and every crash mode, the reopened database (durability 'full') must:
 *  - be at a version between the last acknowledged commit and the one in flight;
 *  - list either every version up to the start (the old file, plus the writer's commits), or,
 *    of the versions there at the start, exactly those the policy keeps (the new file);
 *  - have every listed version equal to the model, the others ERR_VERSION_NOT_FOUND;
 *  - leave no `.compact`, and take a new commit.
 */
import { describe, expect, it } from 'vitest'
import { open, type KeepPolicy } from '../../src/index.js'
import { CRASH_MODES, SimFileIO } from '../helpers/sim-file-io.js'
import type { Contents } from '../fault/workload.js'
import { checkContents, describeError, describeKeep, expectCode, fail, fmtList, historyOf, Mismatch, policyKeeps, sameList, type Db } from './helpers.js'

const DB = '/data/fault.cambium'
const openDb = (sim: SimFileIO): Db => open(DB, { fileIO: sim, keyEncoding: 'utf8', durability: 'full', nodeSize: 512 }) as Db
/** The writer stops at this many commits until the compaction is done (bounds the ops per run). */
const WRITES_DURING = 15
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))
const wKey = (i: number): string => `writer/${String(i).padStart(4, '0')}`
const wVal = (i: number): Buffer => Buffer.from(`w${i}`.padEnd(20 + (i % 300), '#'))

interface Run {
  start: number
  before: number[]
  lastAcked: number
  lastAttempted: number
  compacted: boolean
  crashed: boolean
  ops: number
}

/** Opens, arms the crash, runs compactAsync with a writer between slices, then 5 more commits. */
async function run(sim: SimFileIO, keep: KeepPolicy, crashAt: number | undefined, writesAfter = 5): Promise<Run> {
  const db = openDb(sim)
  const start = db.version
  const before = historyOf(db).map((h) => h.version)
  const ops0 = sim.ops
  if (crashAt !== undefined) sim.setPlan({ crashAt: ops0 + crashAt })
  const r: Run = { start, before, lastAcked: start, lastAttempted: start, compacted: false, crashed: false, ops: 0 }
  let done = false
  const p = db.compactAsync({ keep, sliceMs: 0.01 }).then(
    () => {
      r.compacted = !sim.isCrashed
    },
    (e: unknown) => {
      if (!sim.isCrashed) throw e
    },
  )
  void p.finally(() => (done = true))
  let i = 0
  let after = 0
  while (!sim.isCrashed && after < writesAfter) {
    await tick()
    if (done) after++
    else if (i >= WRITES_DURING) continue
    r.lastAttempted = r.lastAcked + 1
    try {
      const v = db.put(wKey(i), wVal(i))
      if (v !== r.lastAcked + 1) throw new Error(`put returned ${v}, expected ${r.lastAcked + 1}`)
      r.lastAcked = v
      i++
    } catch (e) {
      if (!sim.isCrashed) throw e
      break
    }
    r.lastAttempted = r.lastAcked
  }
  await p
  if (!sim.isCrashed) db.close()
  r.crashed = sim.isCrashed
  r.ops = sim.ops - ops0
  return r
}

function contentsAt(versions: readonly Contents[], start: number, v: number): Contents {
  if (v <= start) return versions[v]!
  const m = new Map(versions[start]!)
  for (let i = 0; i < v - start; i++) m.set(wKey(i), wVal(i))
  return m
}

function check(sim: SimFileIO, versions: readonly Contents[], keep: KeepPolicy, r: Run, ctx: string): string {
  const db = openDb(sim)
  try {
    if (sim.listFiles().some((f) => f.endsWith('.compact'))) fail(`${ctx}: a .compact file is left after a read-write open`)
    const v = db.version
    if (v < r.lastAcked || v > r.lastAttempted) fail(`${ctx}: reopened at version ${v}; allowed ${r.lastAcked}..${r.lastAttempted}`)
    const hist = historyOf(db).map((h) => h.version)
    const old = hist.filter((x) => x <= r.start)
    const kept = policyKeeps(
      r.before.map((x) => ({ version: x, time: 0 })),
      typeof keep === 'object' && 'since' in keep && keep.since instanceof Date ? 'all' : keep,
    )
    let found: string
    // keep 'latest' keeps exactly the version that was latest at the swap: the start version
    // only if no writer commit landed before the swap.
    const latestOnly = keep === 'latest' && old.length === 0 && hist.length > 0 && hist[0]! > r.start
    if (sameList(old, r.before)) found = 'old file (or keep all)'
    else if (sameList(old, kept) || latestOnly) found = 'new file'
    else fail(`${ctx}: of the versions there at the start it lists ${fmtList(old)}; the old file has ${fmtList(r.before)}, the policy keeps ${fmtList(kept)}`)
    if (r.compacted && found !== 'new file' && !sameList(kept, r.before)) fail(`${ctx}: compactAsync() resolved, but the old file came back`)
    const fresh = hist.filter((x) => x > r.start)
    if (fresh.some((x, i) => i > 0 && x <= fresh[i - 1]!) || (fresh.length > 0 && fresh[fresh.length - 1] !== v)) fail(`${ctx}: history after the start is ${fmtList(fresh)}`)
    if (found === 'old file (or keep all)' && !sameList(fresh, Array.from({ length: v - r.start }, (_, i) => r.start + 1 + i)) && sameList(kept, r.before) === false) {
      fail(`${ctx}: the old file lacks some of the writer's commits: ${fmtList(fresh)}`)
    }
    checkContents(db, contentsAt(versions, r.start, v), `${ctx}: latest v${v}`)
    for (let x = 0; x <= v; x++) {
      // Versions from before the start: a sample (they were checked by the sync sweep); the writer's: all.
      if (x <= r.start && x % 10 !== 0 && x !== hist[0] && x !== r.start) continue
      if (hist.includes(x)) {
        const snap = db.checkout(x)
        if (x <= r.start) checkContents(snap, versions[x]!, `${ctx}: checkout(${x})`)
        else {
          // The writer's versions differ only in writer/ keys: compare those and the count.
          const want = contentsAt(versions, r.start, x)
          if (snap.count() !== want.size) fail(`${ctx}: checkout(${x}).count() is ${snap.count()}, expected ${want.size}`)
          const got = [...snap.range({ gte: 'writer/', lt: 'writer0' })]
          const exp = Array.from({ length: x - r.start }, (_, i) => [wKey(i), wVal(i)] as const)
          if (got.length !== exp.length || got.some(([k, val], i) => k !== exp[i]![0] || !val.equals(exp[i]![1]))) {
            fail(`${ctx}: checkout(${x}) has writer keys ${got.map(([k]) => k).join(',')}, expected ${exp.length} of them`)
          }
        }
      }
      else expectCode(() => db.checkout(x), 'ERR_VERSION_NOT_FOUND', `${ctx}: checkout(${x})`)
    }
    if (db.put('after/crash', Buffer.from('x')) !== v + 1) fail(`${ctx}: the first commit after recovery is not v${v + 1}`)
    return found
  } finally {
    db.close()
  }
}

/** 70 versions: 10 batches of 500 new keys (a tree of a few hundred nodes), then 60 small commits. */
function baseImage(): { image: SimFileIO; versions: Contents[] } {
  const sim = new SimFileIO({ seed: 11, powersafeOverwrite: true })
  const db = openDb(sim)
  const versions: Contents[] = [new Map()]
  const commit = (v: number, m: Map<string, Buffer>): void => {
    expect(v).toBe(versions.length)
    versions.push(m)
  }
  for (let b = 0; b < 10; b++) {
    const m = new Map(versions[versions.length - 1]!)
    const ops = Array.from({ length: 500 }, (_, i) => {
      const k = `load/${String(b * 500 + i).padStart(5, '0')}`
      const v = Buffer.from(`${b}.${i}`.padEnd(30 + (i % 40), '='))
      m.set(k, v)
      return { type: 'put' as const, key: k, value: v }
    })
    commit(db.batch(ops), m)
  }
  for (let c = 0; c < 60; c++) {
    const m = new Map(versions[versions.length - 1]!)
    const k = `load/${String((c * 797) % 5000).padStart(5, '0')}`
    if (c % 5 === 4) {
      m.delete(k)
      commit(db.delete(k), m)
    } else {
      const v = Buffer.from(`c${c}`.repeat(c % 9 === 0 ? 100 : 3))
      m.set(k, v)
      commit(db.put(k, v), m)
    }
  }
  db.close()
  return { image: sim.crash('drop', 1), versions }
}

describe('power loss during compactAsync with a concurrent writer', () => {
  // keep 'all' is left out: its old and new files list the same versions, so it adds run time, not checks.
  for (const keep of ['latest', { since: 60 }] as KeepPolicy[]) {
    it(`keep ${describeKeep(keep)}: every op x every crash mode`, { timeout: 120_000 }, async () => {
      const { image, versions } = baseImage()
      const wl = { versions }
      const clean = await run(image.clone({ seed: 1, powersafeOverwrite: true }), keep, undefined)
      expect(clean.compacted).toBe(true)
      expect(clean.lastAcked - clean.start, 'commits made during and after the compaction').toBeGreaterThan(5)
      const outcomes = new Map<string, number>()
      const failures: string[] = []
      let points = 0
      for (let n = 1; n <= clean.ops + 10; n++) {
        const sim = image.clone({ seed: n, powersafeOverwrite: true })
        const r = await run(sim, keep, n)
        if (!r.crashed) continue
        points++
        CRASH_MODES.forEach((mode, mi) => {
          const ctx = `keep ${describeKeep(keep)} crash at op ${n} mode ${mode} (lastAcked ${r.lastAcked}, attempted ${r.lastAttempted}, compacted ${r.compacted})`
          try {
            const f = check(sim.crash(mode, n * 8 + mi), wl.versions, keep, r, ctx)
            outcomes.set(f, (outcomes.get(f) ?? 0) + 1)
          } catch (e) {
            failures.push(e instanceof Mismatch ? e.message : `${ctx}: ${describeError(e)}`)
          }
        })
      }
      console.log(`[compaction crash async] keep ${describeKeep(keep)}: clean run ${clean.ops} ops, ${clean.lastAcked - clean.start} writer commits; ${points} crash points; ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`)
      expect(points).toBeGreaterThan(10)
      if (failures.length > 0) throw new Error(`${failures.length} failing cases:\n${failures.slice(0, 12).join('\n')}`)
    })
  }
})
