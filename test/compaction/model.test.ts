/**
 * Model-based test of compaction: random commits (put, delete, batch, fill, rollback), clock
 * moves (a fake Date, so commit times are under test control and {every} / {since: Date} are
 * exercised on real window boundaries, the clock also going backwards), reopens, power loss,
 * and compactions (compact(), compactAsync(), compactAsync with commits made between its
 * slices, compactAsync abandoned by close()) under random keep policies.
 *
 * The model keeps every version ever committed and the list of versions the file holds. After
 * every compaction:
 *  - history() lists exactly the versions the policy keeps (policyKeeps in helpers.ts, a
 *    statement of the documented rules applied to the times history() reported before), with the
 *    same times, entry counts and rollback sources as before; the result's figures agree;
 *  - every kept version equals the model (checkout), every dropped one throws
 *    ERR_VERSION_NOT_FOUND on checkout and on rollback;
 *  - the file is bytesAfter long and no `.compact` file is left;
 * and new commits, reopens and power loss (durability 'full') keep all of it.
 *
 * Replay: CAMBIUM_COMPACT_SEED=<seed> [CAMBIUM_COMPACT_PATH=<path>]; CAMBIUM_COMPACT_RUNS=<n> soaks.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { open, type KeepPolicy } from '../../src/index.js'
import { SimFileIO } from '../helpers/sim-file-io.js'
import {
  checkContents,
  describeError,
  describeKeep,
  expectCode,
  fail,
  fmtList,
  historyOf,
  isCambium,
  policyKeeps,
  sameList,
  type Contents,
  type Db,
  type VersionTime,
} from './helpers.js'

const envInt = (name: string): number | undefined => {
  const v = process.env[name]
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${v}`)
  return n
}
const SEED = envInt('CAMBIUM_COMPACT_SEED')
const PATH = process.env['CAMBIUM_COMPACT_PATH'] || undefined
const RUNS = envInt('CAMBIUM_COMPACT_RUNS')

const DB = '/db/model.cambium'
const T0 = Date.UTC(2030, 0, 1)

// ---------------------------------------------------------------------------------------
// Ops

type KeepSpec =
  | { kind: 'default' }
  | { kind: 'latest' }
  | { kind: 'all' }
  /** since the present version at index pick (mod), plus off (0: exactly it; +1 past it; a big off: beyond the latest) */
  | { kind: 'sinceV'; pick: number; off: number }
  /** since the commit time of the present version at pick, plus delta ms */
  | { kind: 'sinceT'; pick: number; delta: number }
  | { kind: 'every'; ms: number }

type Write =
  | { t: 'put'; k: number; len: number; fill: number }
  | { t: 'del'; k: number }
  | { t: 'batch'; ops: Array<{ t: 'put'; k: number; len: number; fill: number } | { t: 'del'; k: number }> }
  /** n keys f<base>-<i> in one batch */
  | { t: 'fill'; base: number; n: number; len: number }
  /** rollback to the version at index `to` (mod) of ALL versions ever committed (dropped ones must fail) */
  | { t: 'rollback'; to: number }

type Op =
  | Write
  | { t: 'tick'; ms: number }
  | { t: 'reopen'; durability: 'full' | 'none' }
  | { t: 'powerloss' }
  | { t: 'compact'; keep: KeepSpec; mode: 'sync' | 'async' }
  /** compactAsync with these writes (each after a turn of the event loop) made while it runs */
  | { t: 'compactWrites'; keep: KeepSpec; writes: Write[]; ticks: number[] }
  /** compactAsync, then close() at once: abandoned unless it finished synchronously */
  | { t: 'compactClose'; keep: KeepSpec }

const keyArb = fc.nat(40)
const putArb = fc.record({ t: fc.constant('put' as const), k: keyArb, len: fc.oneof(fc.nat(40), fc.integer({ min: 200, max: 700 })), fill: fc.nat(255) })
const delArb = fc.record({ t: fc.constant('del' as const), k: keyArb })
const writeArb: fc.Arbitrary<Write> = fc.oneof(
  { weight: 5, arbitrary: putArb },
  { weight: 2, arbitrary: delArb },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('batch' as const), ops: fc.array(fc.oneof(putArb, delArb), { minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fill' as const), base: fc.nat(5), n: fc.integer({ min: 20, max: 300 }), len: fc.oneof(fc.nat(30), fc.constant(300)) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rollback' as const), to: fc.nat(1000) }) },
)
const keepArb: fc.Arbitrary<KeepSpec> = fc.oneof(
  fc.constant({ kind: 'default' as const }),
  fc.constant({ kind: 'latest' as const }),
  fc.constant({ kind: 'all' as const }),
  fc.record({ kind: fc.constant('sinceV' as const), pick: fc.nat(100), off: fc.oneof(fc.constant(0), fc.constant(1), fc.constant(1000)) }),
  fc.record({ kind: fc.constant('sinceT' as const), pick: fc.nat(100), delta: fc.integer({ min: -2, max: 2 }) }),
  fc.record({ kind: fc.constant('every' as const), ms: fc.constantFrom(1, 7, 50, 1000, 3600_000) }),
)
const tickArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 500, max: 3000 }), fc.integer({ min: -100, max: -1 }))
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: writeArb },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: tickArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), durability: fc.constantFrom('full' as const, 'none' as const) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'powerloss' as const }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('compact' as const), keep: keepArb, mode: fc.constantFrom('sync' as const, 'async' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('compactWrites' as const),
      keep: keepArb,
      writes: fc.array(writeArb, { minLength: 1, maxLength: 12 }),
      ticks: fc.array(tickArb, { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('compactClose' as const), keep: keepArb }) },
)

// ---------------------------------------------------------------------------------------
// The model and the runner

const keyOf = (k: number): string => `k${String(k).padStart(3, '0')}`
function val(len: number, fill: number): Buffer {
  const b = Buffer.alloc(len)
  for (let i = 0; i < len; i++) b[i] = (fill + i * 13) & 0xff
  return b
}

class Runner {
  sim = new SimFileIO({ seed: 1, powersafeOverwrite: true })
  db!: Db
  durability: 'full' | 'none' = 'full'
  clock = T0
  /** contents of every version ever committed */
  readonly all = new Map<number, Contents>()
  readonly times = new Map<number, number>()
  readonly rollbackOf = new Map<number, number | undefined>()
  /** versions the file holds, ascending */
  present: number[] = [0]
  latest = 0
  compactions = 0
  stats: Stats

  constructor(stats: Stats) {
    this.stats = stats
    vi.setSystemTime(this.clock)
    this.open()
    this.all.set(0, new Map())
    this.times.set(0, this.clock)
    this.rollbackOf.set(0, undefined)
  }

  open(): void {
    vi.setSystemTime(this.clock)
    this.db = open(DB, { fileIO: this.sim, keyEncoding: 'utf8', durability: this.durability, nodeSize: 512 }) as Db
  }

  get contents(): Contents {
    return this.all.get(this.latest)!
  }

  private committed(v: number, c: Contents, rollbackOf?: number): void {
    if (v !== this.latest + 1) fail(`a commit returned version ${v}, expected ${this.latest + 1}`)
    const t = Math.max(this.clock, this.times.get(this.latest)!)
    this.latest = v
    this.all.set(v, c)
    this.times.set(v, t)
    this.rollbackOf.set(v, rollbackOf)
    this.present.push(v)
    this.stats.commits++
  }

  write(w: Write): void {
    vi.setSystemTime(this.clock)
    const m = new Map(this.contents)
    switch (w.t) {
      case 'put': {
        const v = val(w.len, w.fill)
        m.set(keyOf(w.k), v)
        return this.committed(this.db.put(keyOf(w.k), v), m)
      }
      case 'del':
        m.delete(keyOf(w.k))
        return this.committed(this.db.delete(keyOf(w.k)), m)
      case 'batch': {
        const ops = w.ops.map((o) => (o.t === 'put' ? { type: 'put' as const, key: keyOf(o.k), value: val(o.len, o.fill) } : { type: 'del' as const, key: keyOf(o.k) }))
        for (const o of ops) {
          if (o.type === 'put') m.set(o.key, o.value)
          else m.delete(o.key)
        }
        return this.committed(this.db.batch(ops), m)
      }
      case 'fill': {
        const ops = Array.from({ length: w.n }, (_, i) => ({ type: 'put' as const, key: `f${w.base}-${String(i).padStart(4, '0')}`, value: val(w.len, i) }))
        for (const o of ops) m.set(o.key, o.value)
        return this.committed(this.db.batch(ops), m)
      }
      case 'rollback': {
        const ever = [...this.all.keys()]
        const to = ever[w.to % ever.length]!
        if (!this.present.includes(to)) {
          expectCode(() => this.db.rollback(to), 'ERR_VERSION_NOT_FOUND', `rollback(${to}) to a dropped version`)
          if (this.db.version !== this.latest) fail(`a failed rollback moved the version to ${this.db.version}`)
          this.stats.droppedRollbacks++
          return
        }
        return this.committed(this.db.rollback(to), new Map(this.all.get(to)!), to)
      }
    }
  }

  resolveKeep(k: KeepSpec): KeepPolicy | undefined {
    const p = this.present
    switch (k.kind) {
      case 'default':
        return undefined
      case 'latest':
      case 'all':
        return k.kind
      case 'sinceV':
        return { since: p[k.pick % p.length]! + k.off }
      case 'sinceT':
        return { since: new Date(this.times.get(p[k.pick % p.length]!)! + k.delta) }
      case 'every':
        return { every: k.ms }
    }
  }

  /** history() equals the model's present versions, with their times, counts and rollback sources. */
  checkHistory(what: string): VersionTime[] {
    const h = [...this.db.history()]
    const got = h.map((c) => c.version)
    if (!sameList(got, this.present)) fail(`${what}: history() lists ${fmtList(got)}, the model holds ${fmtList(this.present)}`)
    for (const c of h) {
      const t = this.times.get(c.version)!
      if (c.time.getTime() !== t) fail(`${what}: history time of v${c.version} is ${c.time.getTime() - T0} (+T0), expected ${t - T0}`)
      if (c.entries !== this.all.get(c.version)!.size) fail(`${what}: history entries of v${c.version} is ${c.entries}, expected ${this.all.get(c.version)!.size}`)
      if (c.rollbackOf !== this.rollbackOf.get(c.version)) fail(`${what}: history rollbackOf of v${c.version} is ${c.rollbackOf}, expected ${this.rollbackOf.get(c.version)}`)
    }
    return h.map((c) => ({ version: c.version, time: c.time.getTime() }))
  }

  /** Every version ever: present ones equal the model, dropped ones are not found. */
  checkVersions(what: string): void {
    if (this.db.version !== this.latest) fail(`${what}: db.version is ${this.db.version}, expected ${this.latest}`)
    checkContents(this.db, this.contents, `${what}: latest v${this.latest}`, 'all')
    const present = new Set(this.present)
    for (const [v, c] of this.all) {
      if (present.has(v)) {
        const s = this.db.checkout(v)
        if (s.version !== v) fail(`${what}: checkout(${v}).version is ${s.version}`)
        if (s.time.getTime() !== this.times.get(v)) fail(`${what}: checkout(${v}).time is off`)
        checkContents(s, c, `${what}: checkout(${v})`)
      } else {
        expectCode(() => this.db.checkout(v), 'ERR_VERSION_NOT_FOUND', `${what}: checkout(${v}) of a dropped version`)
      }
    }
    this.checkHistory(what)
  }

  noCompactFile(what: string): void {
    const left = this.sim.listFiles().filter((f) => f.endsWith('.compact'))
    if (left.length > 0) fail(`${what}: ${left.join(', ')} left behind`)
  }

  /** Checks a finished compaction that ran with no commit in between. */
  afterCompaction(what: string, before: VersionTime[], keep: KeepPolicy | undefined, r: { versionsKept: number; firstVersion: number; lastVersion: number; bytesAfter: number; bytesBefore: number }): void {
    const want = policyKeeps(before, keep)
    this.present = want
    this.checkHistory(`${what} (keep ${describeKeep(keep)}, before ${fmtList(before.map((b) => b.version))})`)
    if (r.versionsKept !== want.length || r.firstVersion !== want[0] || r.lastVersion !== want[want.length - 1]) {
      fail(`${what}: result says ${r.versionsKept} versions ${r.firstVersion}..${r.lastVersion}, expected ${want.length} ${want[0]}..${want[want.length - 1]}`)
    }
    const size = this.sim.fileBytes(DB).length
    if (r.bytesAfter !== size) fail(`${what}: bytesAfter ${r.bytesAfter}, but the file is ${size} bytes`)
    if (r.bytesAfter > r.bytesBefore) this.stats.grew++
    this.noCompactFile(what)
    this.checkVersions(what)
    this.compactions++
  }

  async run(op: Op, i: number): Promise<void> {
    const what = `op ${i} (${op.t})`
    switch (op.t) {
      case 'put':
      case 'del':
      case 'batch':
      case 'fill':
      case 'rollback':
        this.write(op)
        checkContents(this.db, this.contents, `${what}: latest`)
        return
      case 'tick':
        this.clock += op.ms
        return
      case 'reopen':
        this.db.close()
        this.noCompactFile(`${what} after close`)
        this.durability = op.durability
        this.open()
        this.checkVersions(`${what} reopened`)
        return
      case 'powerloss':
        if (this.durability === 'none') this.db.close()
        this.sim = this.sim.crash('drop', i)
        this.open()
        this.checkVersions(`${what} after power loss`)
        return
      case 'compact': {
        const keep = this.resolveKeep(op.keep)
        const before = this.checkHistory(`${what} before`)
        vi.setSystemTime(this.clock)
        const opts = keep === undefined ? {} : { keep }
        const r = op.mode === 'sync' ? this.db.compact(opts) : await this.db.compactAsync({ ...opts, sliceMs: 0.05 })
        this.afterCompaction(`${what} ${op.mode}`, before, keep, r)
        return
      }
      case 'compactWrites': {
        const keep = this.resolveKeep(op.keep)
        const before = this.checkHistory(`${what} before`)
        const first = policyKeeps(before, keep)
        const latestBefore = this.latest
        vi.setSystemTime(this.clock)
        let done = false
        const p = this.db.compactAsync({ ...(keep === undefined ? {} : { keep }), sliceMs: 0.02 }).finally(() => (done = true))
        let during = 0
        const presentBefore = [...this.present]
        let synced = false
        for (let j = 0; j < op.writes.length; j++) {
          await new Promise<void>((resolve) => setImmediate(resolve))
          if (!done) during++
          else if (!synced) {
            // Finished: from here on, rollbacks may only reach what the new file holds (checked below).
            synced = true
            this.present = [...this.db.history()].map((c) => c.version)
          }
          this.clock += op.ticks[j % op.ticks.length]!
          this.write(op.writes[j]!)
        }
        const r = await p
        this.stats.writesDuringCompaction += during
        // Writes made after the compaction finished are ordinary commits on the new file.
        const got = [...this.db.history()].map((c) => c.version)
        const fresh = this.present.filter((v) => v > latestBefore)
        if (keep === undefined || keep === 'latest') {
          // keep 'latest' keeps exactly the version that was latest at the swap.
          const upTo = got.filter((v) => v <= r.lastVersion)
          if (!sameList(upTo, [r.lastVersion]) || r.versionsKept !== 1) fail(`${what}: keep latest left ${fmtList(upTo)} up to the swap (result: ${r.versionsKept} kept, last ${r.lastVersion})`)
          if (r.lastVersion < latestBefore) fail(`${what}: the swap version ${r.lastVersion} is older than the version at the call ${latestBefore}`)
          const after = got.filter((v) => v > r.lastVersion)
          if (!sameList(after, fresh.filter((v) => v > r.lastVersion))) fail(`${what}: commits after the swap ${fmtList(after)}, made ${fmtList(fresh)}`)
          if (r.lastVersion < this.latest) this.stats.writesAfterCompaction++
          this.present = got
          this.noCompactFile(what)
          return
        }
        const all = [...presentBefore, ...fresh]
        // First pass: exactly the policy over the versions there at the call. Catch-up rounds:
        // the policy over each round's commits, so a superset of the policy over everything,
        // within what was committed.
        const old = got.filter((v) => v <= latestBefore)
        if (!sameList(old, first)) fail(`${what}: of the versions there at the call (${fmtList(before.map((b) => b.version))}), history keeps ${fmtList(old)}, expected ${fmtList(first)} (keep ${describeKeep(keep)})`)
        const newKept = got.filter((v) => v > latestBefore)
        if (newKept.some((v) => !fresh.includes(v))) fail(`${what}: history lists ${fmtList(newKept)}, but the commits made were ${fmtList(fresh)}`)
        const whole = policyKeeps(
          all.map((v) => ({ version: v, time: this.times.get(v)! })),
          keep,
        ).filter((v) => v > latestBefore)
        if (whole.some((v) => !newKept.includes(v))) fail(`${what}: history lists ${fmtList(newKept)} of the new commits; the policy over the whole history keeps ${fmtList(whole)}`)
        if (got[got.length - 1] !== this.latest) fail(`${what}: the latest version ${this.latest} is not in history ${fmtList(got)}`)
        const keptDuring = got.filter((v) => v > latestBefore && v <= r.lastVersion)
        if (r.lastVersion < latestBefore || r.versionsKept !== first.length + keptDuring.length) {
          fail(`${what}: result says ${r.versionsKept} versions up to ${r.lastVersion}; history after is ${fmtList(got)}`)
        }
        if (r.lastVersion < this.latest) this.stats.writesAfterCompaction++
        const wholeAtEnd = policyKeeps(
          all.filter((v) => v <= r.lastVersion).map((v) => ({ version: v, time: this.times.get(v)! })),
          keep,
        )
        this.stats.extraKept += got.filter((v) => v <= r.lastVersion).length - wholeAtEnd.length
        this.present = got
        this.noCompactFile(what)
        this.checkVersions(what)
        this.compactions++
        return
      }
      case 'compactClose': {
        const keep = this.resolveKeep(op.keep)
        const before = this.checkHistory(`${what} before`)
        vi.setSystemTime(this.clock)
        let outcome: 'done' | 'failed' | undefined
        let err: unknown
        const p = this.db.compactAsync({ ...(keep === undefined ? {} : { keep }), sliceMs: 0.02 }).then(
          () => (outcome = 'done'),
          (e: unknown) => {
            outcome = 'failed'
            err = e
          },
        )
        // If it did not finish synchronously, closing abandons it.
        await Promise.resolve()
        const finishedFirst = outcome === 'done'
        this.db.close()
        this.noCompactFile(`${what} after close`)
        await p
        if (!finishedFirst) {
          if (outcome === 'done') fail(`${what}: compactAsync resolved after close() was called while it was running`)
          else if (!isCambium(err, 'ERR_CLOSED')) fail(`${what}: compactAsync abandoned by close() rejected with ${describeError(err)}, expected ERR_CLOSED`)
          else this.stats.abandoned++
        }
        this.open()
        if (outcome === 'done') this.present = policyKeeps(before, keep)
        this.checkVersions(`${what} reopened (${outcome})`)
        return
      }
    }
  }
}

interface Stats {
  runs: number
  commits: number
  compactions: number
  droppedRollbacks: number
  writesDuringCompaction: number
  writesAfterCompaction: number
  extraKept: number
  abandoned: number
  grew: number
  maxVersions: number
  checked: number
}
const stats: Stats = {
  runs: 0,
  commits: 0,
  compactions: 0,
  droppedRollbacks: 0,
  writesDuringCompaction: 0,
  writesAfterCompaction: 0,
  extraKept: 0,
  abandoned: 0,
  grew: 0,
  maxVersions: 0,
  checked: 0,
}

/** src/check, if this build has it (loaded lazily so this test does not depend on it). */
let checker: typeof import('../../src/check/index.js') | undefined

async function runCase(ops: Op[]): Promise<void> {
  const r = new Runner(stats)
  try {
    for (let i = 0; i < ops.length; i++) {
      try {
        await r.run(ops[i]!, i)
      } catch (e) {
        throw new Error(`op ${i} ${JSON.stringify(ops[i])}: ${describeError(e)}`)
      }
    }
    // The end: a commit on the (maybe compacted) file, a clean reopen, a last compaction keeping
    // everything (nothing may change), and every version once more.
    r.write({ t: 'put', k: 0, len: 5, fill: 1 })
    r.db.close()
    r.open()
    r.checkVersions('end, reopened')
    const before = r.checkHistory('end')
    r.afterCompaction('end, keep all', before, 'all', r.db.compact({ keep: 'all' }))
    r.db.close()
    if (r.sim.openHandleCount !== 0) fail(`${r.sim.openHandleCount} file handles left open after close()`)
    // The independent offline checker (src/check), over every version of the compacted file.
    if (checker !== undefined) {
      const c = checker.checkDatabase(DB, { fileIO: r.sim, allVersions: true })
      if (!c.ok) fail(`checkDatabase on the final file: ${JSON.stringify(c.errors.slice(0, 3))}`)
      stats.checked++
    }
    stats.compactions += r.compactions
    stats.maxVersions = Math.max(stats.maxVersions, r.all.size)
    stats.runs++
  } finally {
    if (r.db.isOpen) r.db.close()
  }
}

describe('compaction model', () => {
  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    checker = await import('../../src/check/index.js').catch(() => undefined)
  })
  afterAll(() => {
    vi.useRealTimers()
    console.log(
      `[compaction model] runs ${stats.runs}, commits ${stats.commits}, compactions ${stats.compactions}, largest history ${stats.maxVersions} versions, ` +
        `rollbacks to dropped versions ${stats.droppedRollbacks}, commits made during compactAsync ${stats.writesDuringCompaction}, ` +
        `versions kept beyond the whole-history policy by catch-up rounds ${stats.extraKept}, abandoned by close ${stats.abandoned}, ` +
        `compactions whose file grew ${stats.grew}, final files passing checkDatabase(allVersions) ${stats.checked}`,
    )
  })

  it('random commits, clock moves, reopens and compactions agree with the model', { timeout: 300_000 }, async () => {
    const details = await fc.check(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 50 }), async (ops) => {
        await runCase(ops)
      }),
      {
        numRuns: RUNS ?? 250,
        ...(SEED === undefined ? {} : { seed: SEED }),
        ...(PATH === undefined ? {} : { path: PATH, endOnFailure: true }),
      },
    )
    if (details.failed) {
      const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
      throw new Error(`${cause}\n\n${fc.defaultReportMessage(details)}\n\nReplay: CAMBIUM_COMPACT_SEED=${details.seed} CAMBIUM_COMPACT_PATH=${details.counterexamplePath ?? ''}`)
    }
    expect(stats.compactions).toBeGreaterThan(200)
  })
})
