/**
 * Runs an op sequence (ops.ts) against a real database file and the versioned model
 * (model.ts) side by side, checking every answer. Throws ModelMismatch (with the op
 * index) on the first difference. Synchronous: the whole API is.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { realFileIO } from '../../src/io/real-file-io.js'
import { CambiumError, open, type CompactResult, type Database, type FileIO, type KeepPolicy, type RangeOptions, type Snapshot, type Transaction } from '../../src/index.js'
import {
  compareHex,
  modelCount,
  modelRange,
  sortedKeys,
  VersionedModel,
  type Contents,
  type HexRange,
} from './model.js'
import { KNOWN_BUGS } from './known-bugs.js'
import type { BoundSpec, HistorySpec, KeepSpec, KeySpec, Op, RangeSpec, ReadApiName, RunConfig, TxOp, ValSpec, WriteOp } from './ops.js'

export class ModelMismatch extends Error {
  override readonly name = 'ModelMismatch'
}

function fail(msg: string): never {
  throw new ModelMismatch(msg)
}

function eq<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) fail(`${what}: expected ${String(expected)}, got ${String(actual)}`)
}

function short(hex: string): string {
  return hex.length > 40 ? `${hex.slice(0, 24)}…(${hex.length / 2} bytes)…${hex.slice(-8)}` : hex
}

function describeBuf(b: Buffer | undefined): string {
  if (b === undefined) return 'undefined'
  return b.length > 24 ? `<${b.length} bytes ${b.subarray(0, 8).toString('hex')}…>` : `<${b.length} bytes ${b.toString('hex')}>`
}

/** Expects `fn` to throw a CambiumError with `code` (or an instance of `cls`). */
export function expectThrow(fn: () => unknown, code: string | (new (...a: never[]) => Error), what: string): void {
  try {
    fn()
  } catch (e) {
    if (typeof code === 'string') {
      if (e instanceof CambiumError && e.code === code) return
      fail(`${what}: expected CambiumError ${code}, got ${e instanceof Error ? `${e.name} ${(e as { code?: string }).code ?? ''}: ${e.message}` : String(e)}`)
    }
    if (e instanceof code) return
    fail(`${what}: expected ${code.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
  }
  fail(`${what}: expected a throw (${typeof code === 'string' ? code : code.name}), but it returned`)
}

// ---------------------------------------------------------------------------------------
// Spec resolution

export function resolveKey(s: KeySpec, present: readonly string[]): string {
  if ('k' in s) return s.k
  if ('p' in s) return present.length === 0 ? '61' : present[s.p % present.length]!
  const tailBytes = s.tail.length / 2
  return s.fill.toString(16).padStart(2, '0').repeat(Math.max(1, s.long - tailBytes)) + s.tail
}

function resolveBound(s: BoundSpec, present: readonly string[]): string {
  if ('empty' in s) return ''
  if ('after' in s) return resolveKey(s.after, present) + s.suffix
  return resolveKey(s, present)
}

const valCache = new Map<string, Buffer>()

export function makeVal(s: ValSpec): Buffer {
  const id = `${s.len}:${s.fill}`
  let b = valCache.get(id)
  if (b === undefined) {
    b = Buffer.alloc(s.len)
    for (let i = 0; i < s.len; i++) b[i] = (s.fill + i * 7) & 0xff
    if (valCache.size > 2000) valCache.clear()
    valCache.set(id, b)
  }
  // the database copies what it is given; hand out a copy anyway so no test can alias
  return Buffer.from(b)
}

const hexBuf = (h: string): Buffer => Buffer.from(h, 'hex')

/** How byte arguments are handed to the database in this run (see RunConfig). */
const argStyle = { u8: false, scribble: false }
const handedOut: Uint8Array[] = []

function bytesArg(b: Uint8Array): Uint8Array {
  const c = argStyle.u8 ? new Uint8Array(b) : Buffer.from(b)
  handedOut.push(c)
  return c
}

/** A fresh key argument (a Buffer, or a plain Uint8Array in u8 runs). */
const karg = (h: string): Uint8Array => bytesArg(hexBuf(h))
/** A fresh copy of a value for the database (the model keeps its own). */
const varg = (v: Buffer): Uint8Array => bytesArg(v)

/** After a write call returned: overwrite every argument buffer handed out, in scribble
 *  runs. The database must have copied what it keeps. */
function scribble(): void {
  if (argStyle.scribble && (argStyle.u8 || !KNOWN_BUGS.writeArgsAliased)) for (const b of handedOut) b.fill(0xee)
  handedOut.length = 0
}

export interface ResolvedRange {
  model: HexRange
  db: RangeOptions<Uint8Array>
}

export function resolveRange(r: RangeSpec, present: readonly string[]): ResolvedRange {
  const model: HexRange = {}
  const db: RangeOptions<Uint8Array> = {}
  for (const name of ['gt', 'gte', 'lt', 'lte', 'prefix'] as const) {
    const b = r[name]
    if (b === undefined) continue
    const h = resolveBound(b, present)
    model[name] = h
    // not registered in handedOut: iter ops decide when (and whether) bounds are overwritten
    db[name] = name === 'prefix' && KNOWN_BUGS.prefixBufferMutated ? new Uint8Array(hexBuf(h)) : argStyle.u8 ? new Uint8Array(hexBuf(h)) : hexBuf(h)
  }
  if (r.reverse !== undefined) model.reverse = db.reverse = r.reverse
  if (r.limit !== undefined) model.limit = db.limit = r.limit
  return { model, db }
}

/** In scribble runs: overwrite the bound buffers of a range whose iterator exists already;
 *  the iterator must have captured its bounds at the call. */
function scribbleBounds(rr: ResolvedRange): void {
  if (!argStyle.scribble || KNOWN_BUGS.iteratorBoundsAliased) return
  for (const name of ['gt', 'gte', 'lt', 'lte', 'prefix'] as const) {
    const b = rr.db[name]
    if (b instanceof Uint8Array) b.fill(0xee)
  }
}

function describeRange(r: HexRange): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'string' ? short(v) : v))
}

/** The fill's [hexKey, value] list. */
export function fillEntries(f: { n: number; base: string; stride: number; pad: number; val: ValSpec }): [string, Buffer][] {
  const out: [string, Buffer][] = []
  const pad = Math.max(0, Math.min(f.pad, 4096 - f.base.length / 2 - 2))
  const padHex = '2e'.repeat(pad)
  for (let i = 0; i < f.n; i++) {
    const x = (i * f.stride) & 0xffff
    out.push([f.base + x.toString(16).padStart(4, '0') + padHex, makeVal({ len: f.val.len, fill: (f.val.fill + i) & 0xff })])
  }
  return out
}

/** The keys a purge deletes, given the present keys in order. */
export function purgeKeys(present: readonly string[], keep: number, offset: number): string[] {
  return present.filter((_k, i) => !(keep > 1 && i % keep === offset % keep))
}

// ---------------------------------------------------------------------------------------
// Comparisons

type Reader = Pick<Database, 'range' | 'keys' | 'values' | 'count' | 'get' | 'has'>

function comparePairs(actual: readonly [Buffer, Buffer][], expected: readonly [string, Buffer][], what: string): void {
  const n = Math.min(actual.length, expected.length)
  for (let i = 0; i < n; i++) {
    const [ak, av] = actual[i]!
    const [ek, ev] = expected[i]!
    const akh = ak.toString('hex')
    if (akh !== ek) fail(`${what}: entry ${i}: expected key ${short(ek)}, got ${short(akh)} (${actual.length} vs ${expected.length} entries)`)
    if (!av.equals(ev)) fail(`${what}: entry ${i} (key ${short(ek)}): expected value ${describeBuf(ev)}, got ${describeBuf(av)}`)
  }
  if (actual.length !== expected.length) {
    const extra = actual.length > expected.length ? `first extra key ${short(actual[n]![0].toString('hex'))}` : `first missing key ${short(expected[n]![0])}`
    fail(`${what}: expected ${expected.length} entries, got ${actual.length}; ${extra}`)
  }
}

function compareKeys(actual: readonly Buffer[], expected: readonly string[], what: string): void {
  const n = Math.min(actual.length, expected.length)
  for (let i = 0; i < n; i++) {
    const h = actual[i]!.toString('hex')
    if (h !== expected[i]) fail(`${what}: key ${i}: expected ${short(expected[i]!)}, got ${short(h)}`)
  }
  if (actual.length !== expected.length) fail(`${what}: expected ${expected.length} keys, got ${actual.length}`)
}

function compareValues(actual: readonly Buffer[], expected: readonly Buffer[], what: string): void {
  const n = Math.min(actual.length, expected.length)
  for (let i = 0; i < n; i++) {
    if (!actual[i]!.equals(expected[i]!)) fail(`${what}: value ${i}: expected ${describeBuf(expected[i])}, got ${describeBuf(actual[i])}`)
  }
  if (actual.length !== expected.length) fail(`${what}: expected ${expected.length} values, got ${actual.length}`)
}

/** Checks one read call (range/keys/values/count with options) against the model. */
function checkRead(r: Reader, c: Contents, keys: readonly string[], api: ReadApiName, rr: ResolvedRange, what: string): void {
  const w = `${what} ${api}(${describeRange(rr.model)})`
  const expected = modelRange(c, keys, rr.model)
  switch (api) {
    case 'range':
      comparePairs([...r.range(rr.db)], expected, w)
      break
    case 'keys':
      compareKeys([...r.keys(rr.db)], expected.map((e) => e[0]), w)
      break
    case 'values':
      compareValues([...r.values(rr.db)], expected.map((e) => e[1]), w)
      break
    case 'count':
      eq(r.count(rr.db), modelCount(keys, rr.model), w)
      break
  }
}

/** Full contents, both directions, and the count. */
function checkAll(r: Reader, c: Contents, keys: readonly string[], what: string): void {
  comparePairs([...r.range()], modelRange(c, keys, {}), `${what} full range()`)
  compareKeys([...r.keys({ reverse: true })], [...keys].reverse(), `${what} keys({ reverse: true })`)
  eq(r.count(), keys.length, `${what} count()`)
}

function checkGet(r: Reader, c: Contents, k: string, what: string): void {
  const got = r.get(karg(k))
  const exp = c.get(k)
  if (exp === undefined ? got !== undefined : got === undefined || !got.equals(exp)) {
    fail(`${what} get(${short(k)}): expected ${describeBuf(exp)}, got ${describeBuf(got)}`)
  }
  eq(r.has(karg(k)), exp !== undefined, `${what} has(${short(k)})`)
}

// ---------------------------------------------------------------------------------------
// The harness

/** An iterator made at some point and read bit by bit later: must yield the state at creation. */
class LiveIter {
  private readonly got: unknown[] = []
  private done = false
  constructor(
    private readonly it: IterableIterator<unknown>,
    private readonly api: 'range' | 'keys' | 'values',
    private readonly expected: [string, Buffer][],
    private readonly what: string,
  ) {}

  pull(n: number): void {
    for (let i = 0; i < n && !this.done; i++) {
      const r = this.it.next()
      if (r.done === true) this.done = true
      else this.got.push(r.value)
    }
  }

  /** Reads the rest and compares everything read with the expected entries. */
  drain(later: string): void {
    while (!this.done) this.pull(1000)
    const what = `${this.what}, ${later}`
    if (this.api === 'range') comparePairs(this.got as [Buffer, Buffer][], this.expected, what)
    else if (this.api === 'keys') compareKeys(this.got as Buffer[], this.expected.map((e) => e[0]), what)
    else compareValues(this.got as Buffer[], this.expected.map((e) => e[1]), what)
  }

  /** After close()/the end of its transaction: next() must throw `code` (unless already exhausted). */
  expectDead(code: string, what: string): void {
    if (!this.done) expectThrow(() => this.it.next(), code, what)
  }
}

/** A compaction keeps each kept version's commit time. */
function checkTimesKept(db: Database, before: readonly { version: number; time: number }[], what: string): void {
  const t = new Map(before.map((h) => [h.version, h.time]))
  for (const h of db.history()) {
    const was = t.get(h.version)
    if (was !== undefined) eq(h.time.getTime(), was, `${what}: time of v${h.version}`)
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function abbrev(vs: readonly number[]): string {
  return vs.length <= 40 ? vs.join(',') : `${vs.slice(0, 20).join(',')},…(${vs.length - 40} more)…,${vs.slice(-20).join(',')}`
}

class TxBoom extends Error {
  constructor() {
    super('planned throw inside the transaction')
  }
}

let fileCounter = 0

/**
 * Real files without fsync, for durability 'none' runs: those check contents, not durability
 * (the crash tests do), and the create/open/close fsyncs would otherwise dominate the run time
 * whenever the disk is busy. Durability 'full' runs use the real file layer, fsyncs included.
 */
export const noSyncFileIO: FileIO = {
  ...realFileIO,
  open(p, mode) {
    const h = realFileIO.open(p, mode)
    return {
      read: (b, pos) => h.read(b, pos),
      write: (b, pos) => h.write(b, pos),
      sync: () => {},
      truncate: (n) => h.truncate(n),
      size: () => h.size(),
      close: () => h.close(),
    }
  },
  syncDir() {},
}

export interface RunResult {
  versions: number
  maxKeys: number
  /** tallest tree seen after any op */
  maxHeight: number
  /** times the tree lost a level while staying non-empty (merges reaching the root) */
  heightDrops: number
  fileSize: number
  /** compactions finished: compact(), compactAsync(), automatic; and compactAsync() abandoned by close() */
  compactions: { sync: number; async: number; auto: number; abandoned: number }
}

export class Harness {
  readonly model = new VersionedModel()
  readonly file: string
  private db!: Database
  private reader: Database | undefined
  private readerSnap: Snapshot | undefined
  private cfg: RunConfig
  /** snapshots kept across ops and re-checked by 'check' ops */
  private snaps: Snapshot[] = []
  /** live db iterators ('open'/'pull' ops) */
  private live: { iter: LiveIter; at: number }[] = []
  maxKeys = 0
  maxHeight = 0
  fileSize = 0
  heightDrops = 0
  private lastHeight = 0
  readonly compactions = { sync: 0, async: 0, auto: 0, abandoned: 0 }
  private lastAuto: unknown

  constructor(dir: string, cfg: RunConfig) {
    this.cfg = cfg
    argStyle.u8 = cfg.u8
    argStyle.scribble = cfg.scribble
    handedOut.length = 0
    this.file = path.join(dir, `m${process.pid}-${++fileCounter}.cambium`)
    this.openDb()
  }

  private openDb(): void {
    this.db = open(this.file, {
      durability: this.cfg.durability,
      ...(this.cfg.durability === 'none' ? { fileIO: noSyncFileIO } : {}),
      nodeSize: this.cfg.nodeSize,
      ...(this.cfg.cacheSize === null ? {} : { cacheSize: this.cfg.cacheSize }),
      ...(this.cfg.autoCompact === null ? {} : { autoCompact: { ratio: this.cfg.autoCompact, minSize: 0, keep: 'all' as const } }),
    })
  }

  private present(): string[] {
    return this.model.keys()
  }

  private expectVersion(v: number, what: string): void {
    eq(v, this.model.version, `${what}: returned version`)
    eq(this.db.version, this.model.version, `${what}: db.version`)
  }

  async run(ops: readonly Op[]): Promise<RunResult> {
    try {
      for (let i = 0; i < ops.length; i++) {
        const o = ops[i]!
        try {
          await this.stepAsync(o)
          // cheap invariants after every op
          eq(this.db.version, this.model.version, 'db.version')
          eq(this.db.count(), this.model.latest.size, 'db.count()')
          this.maxKeys = Math.max(this.maxKeys, this.model.latest.size)
          const h = this.db.internals.head.commit.height
          if (h > 0 && h < this.lastHeight) this.heightDrops++
          this.lastHeight = h
          this.maxHeight = Math.max(this.maxHeight, h)
          const auto = this.db.compaction.lastResult
          if (auto !== undefined && auto !== this.lastAuto) this.compactions.auto++
          this.lastAuto = auto
          if (this.db.compaction.lastError !== undefined) throw this.db.compaction.lastError
        } catch (e) {
          if (e instanceof Error) e.message = `op #${i} ${o.t}: ${e.message}`
          throw e
        }
      }
      try {
        await this.finish()
      } catch (e) {
        if (e instanceof Error) e.message = `after the last op: ${e.message}`
        throw e
      }
    } finally {
      this.dispose()
    }
    return { versions: this.model.version, maxKeys: this.maxKeys, maxHeight: this.maxHeight, heightDrops: this.heightDrops, fileSize: this.fileSize, compactions: this.compactions }
  }

  private dispose(): void {
    try {
      this.reader?.close()
    } catch {
      /* ignore */
    }
    try {
      this.db.close()
    } catch {
      /* ignore */
    }
    for (const f of [this.file, this.file + '.lock', this.file + '.creating', this.file + '.compact']) fs.rmSync(f, { force: true })
  }

  /** Full check, then the read-only reopen in this process. */
  private async finish(): Promise<void> {
    const m = this.model
    // let a background (auto) compaction finish
    for (let i = 0; i < 100_000 && this.db.compaction.running; i++) await tick()
    this.drainLive()
    this.checkHistoryVersions(this.db, 'final db')
    checkAll(this.db, m.latest, m.keys(), 'final db')
    let appended = 0
    for (const h of this.db.history()) appended += h.bytes
    const headerSize = this.db.internals.headerSize
    this.db.close()
    this.fileSize = fs.statSync(this.file).size
    // every byte after the header belongs to exactly one commit's `bytes`
    eq(this.fileSize, headerSize + appended, 'file size = header + the sum of history().bytes')
    const r = open(this.file, { readOnly: true })
    try {
      eq(r.version, m.version, 'read-only reopen: version')
      checkAll(r, m.latest, m.keys(), 'read-only reopen')
      this.checkHistoryVersions(r, 'read-only reopen')
      // a few old versions, spread over the history
      const alive = m.aliveVersions()
      for (const v of new Set([alive[0]!, alive[alive.length >> 1]!, alive[Math.max(0, alive.length - 2)]!])) {
        const s = r.checkout(v)
        checkAll(s, m.contents(v), m.keys(v), `read-only reopen checkout(${v})`)
      }
    } finally {
      r.close()
    }
  }

  /** history() lists exactly the versions in the file, each with the model's entry count. */
  private checkHistoryVersions(db: Database, what: string): void {
    const m = this.model
    const got: number[] = []
    for (const h of db.history()) {
      got.push(h.version)
      eq(h.entries, m.contents(h.version).size, `${what}: history entries of v${h.version}`)
    }
    const want = m.aliveVersions()
    if (got.join(',') !== want.join(',')) fail(`${what}: history versions: expected [${abbrev(want)}], got [${abbrev(got)}]`)
  }

  /** A version from spec: odd specs pick one in the file, even ones any version (maybe compacted away). */
  private pickVersion(spec: number): number {
    const m = this.model
    if (spec % 2 === 1) {
      const alive = m.aliveVersions()
      return alive[(spec >> 1) % alive.length]!
    }
    return (spec >> 1) % (m.version + 1)
  }

  private async stepAsync(o: Op): Promise<void> {
    switch (o.t) {
      case 'compactAsync':
        return this.compactAsync(o)
      case 'tick':
        for (let i = 0; i < o.n; i++) await tick()
        return
      default:
        return this.step(o)
    }
  }

  /** The keep option for a spec, and the versions it keeps of those in the file now. */
  private resolveKeep(k: KeepSpec): { policy: KeepPolicy | undefined; kept: number[]; hist: { version: number; time: number }[] } {
    const hist = [...this.db.history()].map((h) => ({ version: h.version, time: h.time.getTime() }))
    const last = hist[hist.length - 1]!
    let policy: KeepPolicy | undefined
    let sel: { version: number; time: number }[]
    switch (k.kind) {
      case 'default':
        policy = undefined
        sel = [last]
        break
      case 'latest':
        policy = 'latest'
        sel = [last]
        break
      case 'all':
        policy = 'all'
        sel = hist
        break
      case 'since': {
        const v = k.rel % 4 === 0 ? k.rel : hist[k.rel % hist.length]!.version
        policy = { since: v }
        sel = hist.filter((h) => h.version >= v)
        break
      }
      case 'sinceTime': {
        const t = hist[k.rel % hist.length]!.time
        policy = { since: new Date(t) }
        sel = hist.filter((h) => h.time >= t)
        break
      }
      case 'every':
        policy = { every: k.ms }
        // the last version of each window of k.ms milliseconds
        sel = hist.filter((h, i) => i === hist.length - 1 || Math.floor(h.time / k.ms) !== Math.floor(hist[i + 1]!.time / k.ms))
        break
    }
    if (sel[sel.length - 1] !== last) sel = [...sel, last]
    return { policy, kept: sel.map((h) => h.version), hist }
  }

  private compact(o: Extract<Op, { t: 'compact' }>): void {
    const m = this.model
    const db = this.db
    if (db.compaction.running) {
      expectThrow(() => db.compact(), 'ERR_BUSY', 'compact() while an automatic compaction runs')
      return
    }
    const { policy, kept, hist } = this.resolveKeep(o.keep)
    const before = fs.statSync(this.file).size
    const res = db.compact(policy === undefined ? {} : { keep: policy })
    m.setAlive(kept, m.version)
    this.compactions.sync++
    const what = `compact(${JSON.stringify(policy)})`
    eq(res.versionsKept, kept.length, `${what}: versionsKept`)
    eq(res.firstVersion, kept[0]!, `${what}: firstVersion`)
    eq(res.lastVersion, m.version, `${what}: lastVersion`)
    eq(res.bytesBefore, before, `${what}: bytesBefore`)
    eq(res.bytesAfter, fs.statSync(this.file).size, `${what}: bytesAfter = the new file's size`)
    eq(fs.existsSync(this.file + '.compact'), false, `${what}: the .compact file is gone`)
    this.expectVersion(db.version, what)
    this.checkHistoryVersions(db, what)
    checkTimesKept(db, hist, what)
    checkAll(db, m.latest, m.keys(), `after ${what}`)
  }

  private async compactAsync(o: Extract<Op, { t: 'compactAsync' }>): Promise<void> {
    const m = this.model
    if (this.db.compaction.running) {
      let err: unknown
      await this.db.compactAsync().catch((e: unknown) => (err = e))
      if (!(err instanceof CambiumError && err.code === 'ERR_BUSY')) fail(`compactAsync() while another runs: expected ERR_BUSY, got ${String(err)}`)
      return
    }
    const { policy, kept, hist } = this.resolveKeep(o.keep)
    const start = m.version
    const what = `compactAsync(${JSON.stringify(policy)}) from v${start}`
    let outcome: { res: CompactResult } | { err: unknown } | undefined
    const p = this.db.compactAsync({ ...(policy === undefined ? {} : { keep: policy }), sliceMs: o.sliceMs }).then(
      (res) => (outcome = { res }),
      (err: unknown) => (outcome = { err }),
    )
    let applied = false
    /** The swap happened (it runs between our ops): the model drops what it dropped. */
    const apply = (res: CompactResult): void => {
      applied = true
      this.applyAsyncCompaction(res, start, policy, kept, hist, what)
    }
    let busyChecked = false
    for (const w of o.writes) {
      await tick()
      if (outcome !== undefined && !applied) {
        if ('err' in outcome) throw outcome.err
        apply(outcome.res)
      }
      if (outcome === undefined && !busyChecked) {
        expectThrow(() => this.db.compact(), 'ERR_BUSY', `${what}: compact() while it runs`)
        busyChecked = true
      }
      this.dbWrite(w)
      if (o.pin) {
        // pinned mid-compaction: must read the same after the swap (the old file stays open)
        this.step({ t: 'checkout', v: 2 * m.version, range: {} })
        this.step({ t: 'open', api: 'range', range: {} })
      }
    }
    if (o.closeEarly) {
      this.drainLive()
      this.snaps = []
      this.db.close()
      await p
      eq(fs.existsSync(this.file + '.compact'), false, `${what}, closed while running: the .compact file is gone`)
      this.openDb()
      if (outcome !== undefined && 'err' in outcome) {
        // abandoned by close(): nothing changed
        if (!(outcome.err instanceof CambiumError && outcome.err.code === 'ERR_CLOSED')) throw outcome.err
        this.compactions.abandoned++
        this.checkHistoryVersions(this.db, `${what}, abandoned`)
        checkAll(this.db, m.latest, m.keys(), `after ${what}, abandoned`)
        return
      }
    } else {
      await p
    }
    if (outcome === undefined) throw new Error('unreachable: compactAsync settled without an outcome')
    if ('err' in outcome) throw outcome.err
    if (!applied) apply(outcome.res)
    this.expectVersion(this.db.version, what)
    checkAll(this.db, m.latest, m.keys(), `after ${what}`)
    this.drainLive()
    for (const s of this.snaps) checkAll(s, m.contents(s.version), m.keys(s.version), `snapshot of v${s.version} kept across ${what}`)
  }

  /**
   * Keep 'latest' (the default): only the newest version at the swap (res.lastVersion, which is
   * the version now: the swap runs between our ops). Other policies: of the versions there at
   * the start, exactly `kept`; of those committed while it ran, what the policy keeps of each
   * catch-up round (the exact set depends on timing: check what must be kept).
   */
  private applyAsyncCompaction(
    res: CompactResult,
    start: number,
    policy: KeepPolicy | undefined,
    kept: readonly number[],
    hist: readonly { version: number; time: number }[],
    what: string,
  ): void {
    const m = this.model
    const latestOnly = policy === undefined || policy === 'latest'
    const after = [...this.db.history()].map((h) => h.version)
    const afterSet = new Set(after)
    eq(res.lastVersion, m.version, `${what}: lastVersion (the version at the swap)`)
    const initial = after.filter((v) => v <= start)
    const wantInitial = latestOnly ? (res.lastVersion === start ? [start] : []) : kept
    if (initial.join(',') !== wantInitial.join(',')) {
      fail(`${what}: versions kept of those at the start: expected [${abbrev(wantInitial)}], got [${abbrev(initial)}] (swap at v${res.lastVersion})`)
    }
    for (let v = start + 1; v <= m.version; v++) {
      if (!m.alive[v] && afterSet.has(v)) fail(`${what}: v${v} was not in the file but is listed after`)
      if (latestOnly && v !== res.lastVersion && afterSet.has(v)) fail(`${what}: v${v}, committed during it and not the newest at the swap, was kept`)
      const required =
        v === res.lastVersion || policy === 'all' || (typeof policy === 'object' && 'since' in policy && typeof policy.since === 'number' && v >= policy.since)
      if (required && m.alive[v] && !afterSet.has(v)) fail(`${what}: v${v} (committed during it) was dropped`)
    }
    eq(res.versionsKept, after.length, `${what}: versionsKept`)
    eq(res.firstVersion, after[0]!, `${what}: firstVersion`)
    m.setAlive(after, m.version)
    this.compactions.async++
    this.expectVersion(this.db.version, what)
    this.checkHistoryVersions(this.db, what)
    checkTimesKept(this.db, hist, what)
  }

  private step(o: Op): void {
    const m = this.model
    const db = this.db
    switch (o.t) {
      case 'compact':
        return this.compact(o)
      case 'compactAsync':
      case 'tick':
        throw new Error(`${o.t} is async`)
      case 'put': {
        const k = resolveKey(o.key, this.present())
        const v = makeVal(o.val)
        const d = m.draft()
        d.set(k, v)
        m.commit(d)
        const ver = db.put(karg(k), varg(v))
        scribble()
        this.expectVersion(ver, `put(${short(k)})`)
        return
      }
      case 'del': {
        const k = resolveKey(o.key, this.present())
        const d = m.draft()
        d.delete(k)
        m.commit(d)
        const ver = db.delete(karg(k))
        scribble()
        this.expectVersion(ver, `delete(${short(k)})`)
        return
      }
      case 'batch': {
        const present = this.present()
        const d = m.draft()
        const ops = o.ops.map((b) => {
          const k = resolveKey(b.key, present)
          if (b.t === 'put') {
            const v = makeVal(b.val)
            d.set(k, v)
            return { type: 'put' as const, key: karg(k), value: varg(v) }
          }
          d.delete(k)
          return { type: 'del' as const, key: karg(k) }
        })
        if (ops.length > 0) m.commit(d)
        const ver = db.batch(ops)
        scribble()
        this.expectVersion(ver, `batch of ${ops.length}`)
        return
      }
      case 'fill': {
        const entries = fillEntries(o.fill)
        const d = m.draft()
        for (const [k, v] of entries) d.set(k, v)
        m.commit(d)
        if (o.via === 'batch') {
          const ver = db.batch(entries.map(([k, v]) => ({ type: 'put' as const, key: karg(k), value: varg(v) })))
          scribble()
          this.expectVersion(ver, `fill batch of ${entries.length}`)
        } else {
          db.transaction((tx) => {
            for (const [k, v] of entries) {
              tx.put(karg(k), varg(v))
              scribble()
            }
          })
          this.expectVersion(db.version, `fill tx of ${entries.length}`)
        }
        return
      }
      case 'purge': {
        const del = purgeKeys(this.present(), o.keep, o.offset)
        if (o.via === 'single') {
          for (const k of del.slice(0, 150)) {
            const d = m.draft()
            d.delete(k)
            m.commit(d)
            const ver = db.delete(karg(k))
            scribble()
            this.expectVersion(ver, `purge delete(${short(k)})`)
          }
          return
        }
        const d = m.draft()
        for (const k of del) d.delete(k)
        if (del.length > 0) m.commit(d)
        if (o.via === 'batch') {
          const ver = db.batch(del.map((k) => ({ type: 'del' as const, key: karg(k) })))
          scribble()
          this.expectVersion(ver, `purge batch of ${del.length}`)
        } else {
          db.transaction((tx) => {
            for (const k of del) eq(tx.delete(karg(k)), true, `purge tx.delete(${short(k)}) of a present key`)
          })
          this.expectVersion(db.version, `purge tx of ${del.length}`)
        }
        return
      }
      case 'tx':
        return this.transaction(o.ops, o.throwAt)
      case 'get':
      case 'has':
        return checkGet(db, m.latest, resolveKey(o.key, this.present()), 'db')
      case 'read':
        return checkRead(db, m.latest, m.keys(), o.api, resolveRange(o.range, this.present()), 'db')
      case 'checkout': {
        const v = this.pickVersion(o.v)
        if (!m.alive[v]) {
          expectThrow(() => db.checkout(v), 'ERR_VERSION_NOT_FOUND', `checkout(${v}) of a compacted-away version`)
          return
        }
        const s = db.checkout(v)
        eq(s.version, v, `checkout(${v}).version`)
        checkAll(s, m.contents(v), m.keys(v), `checkout(${v})`)
        const rr = resolveRange(o.range, m.keys(v))
        checkRead(s, m.contents(v), m.keys(v), 'range', rr, `checkout(${v})`)
        checkRead(s, m.contents(v), m.keys(v), 'count', rr, `checkout(${v})`)
        this.snaps.push(s)
        if (this.snaps.length > 3) this.snaps.shift()
        return
      }
      case 'rollback': {
        const v = this.pickVersion(o.v)
        if (!m.alive[v]) {
          expectThrow(() => db.rollback(v), 'ERR_VERSION_NOT_FOUND', `rollback(${v}) to a compacted-away version`)
          return
        }
        m.commit(new Map(m.contents(v)), v)
        this.expectVersion(db.rollback(v), `rollback(${v})`)
        checkAll(db, m.latest, m.keys(), `after rollback(${v})`)
        return
      }
      case 'history':
        return this.history(o.h)
      case 'reopen':
        return this.reopen(o)
      case 'iter':
        return this.dbIter(o)
      case 'reader':
        return this.readerStep(o.v)
      case 'open': {
        const rr = resolveRange(o.range, this.present())
        const it = o.api === 'range' ? db.range(rr.db) : o.api === 'keys' ? db.keys(rr.db) : db.values(rr.db)
        scribbleBounds(rr)
        const what = `live db.${o.api}(${describeRange(rr.model)}) made at v${m.version}`
        this.live.push({ iter: new LiveIter(it, o.api, modelRange(m.latest, m.keys(), rr.model), what), at: m.version })
        if (this.live.length > 6) this.drainLive()
        return
      }
      case 'pull': {
        this.live[o.i % Math.max(1, this.live.length)]?.iter.pull(o.n)
        return
      }
      case 'check': {
        this.drainLive()
        checkAll(db, m.latest, m.keys(), 'db')
        for (const s of this.snaps) checkAll(s, m.contents(s.version), m.keys(s.version), `kept snapshot of v${s.version}`)
        return
      }
      case 'bad':
        return this.bad(o.kind)
      case 'burst':
        for (let i = 0; i < o.n; i++) {
          const key = { k: '6b' + (i % o.mod).toString(16).padStart(2, '0') }
          if ((i * 7 + o.fill) % 3 === 0) this.step({ t: 'del', key })
          else this.step({ t: 'put', key, val: { len: i % 50, fill: (i + o.fill) & 0xff } })
        }
        return
    }
  }

  private drainLive(): void {
    for (const l of this.live) l.iter.drain(`drained at v${this.model.version}`)
    this.live = []
  }

  /** One db-level write op = at most one commit (fill/purge as one batch). */
  private dbWrite(w: WriteOp | { t: 'rollback'; v: number }): void {
    switch (w.t) {
      case 'put':
        return this.step({ t: 'put', key: w.key, val: w.val })
      case 'del':
        return this.step({ t: 'del', key: w.key })
      case 'fill':
        return this.step({ t: 'fill', fill: w.fill, via: 'batch' })
      case 'purge':
        return this.step({ t: 'purge', keep: w.keep, offset: w.offset, via: 'batch' })
      case 'rollback':
        return this.step(w)
    }
  }

  private dbIter(o: Extract<Op, { t: 'iter' }>): void {
    const m = this.model
    const rr = resolveRange(o.range, this.present())
    const expected = modelRange(m.latest, m.keys(), rr.model)
    const at = m.version
    const it = o.api === 'range' ? this.db.range(rr.db) : o.api === 'keys' ? this.db.keys(rr.db) : this.db.values(rr.db)
    scribbleBounds(rr)
    const got: unknown[] = []
    const pull = (): void => {
      const n = it.next()
      if (n.done !== true) got.push(n.value)
    }
    for (let i = 0; i < o.take; i++) pull()
    for (const w of o.writes) {
      this.dbWrite(w)
      pull()
    }
    for (let n = it.next(); n.done !== true; n = it.next()) got.push(n.value)
    const what = `db.${o.api}(${describeRange(rr.model)}) made at v${at}, read across ${m.version - at} later commits`
    if (o.api === 'range') comparePairs(got as [Buffer, Buffer][], expected, what)
    else if (o.api === 'keys') compareKeys(got as Buffer[], expected.map((e) => e[0]), what)
    else compareValues(got as Buffer[], expected.map((e) => e[1]), what)
  }

  private transaction(ops: readonly TxOp[], throwAt: number | null): void {
    const m = this.model
    const db = this.db
    const before = m.version
    const d = m.draft()
    let wrote = false
    let txRef: Transaction | undefined
    let lingering: IterableIterator<Buffer> | undefined
    const live: LiveIter[] = []
    const token = { token: true }
    let threw = false
    let ret: unknown
    try {
      ret = db.transaction((tx) => {
        txRef = tx
        lingering = tx.keys()
        const drain = (): void => {
          for (const l of live) l.drain('drained at the end of the callback')
          live.length = 0
        }
        for (let i = 0; i < ops.length; i++) {
          if (throwAt === i) {
            drain()
            throw new TxBoom()
          }
          try {
            if (this.txStep(tx, ops[i]!, d, live)) wrote = true
            // O(1) in the engine (the root's count): catches stale counts in uncommitted nodes
            eq(tx.count(), d.size, 'tx.count()')
          } catch (e) {
            if (e instanceof Error && !(e instanceof TxBoom)) e.message = `tx op #${i} ${ops[i]!.t}: ${e.message}`
            throw e
          }
        }
        drain()
        if (throwAt !== null && throwAt >= ops.length) throw new TxBoom()
        return token
      })
    } catch (e) {
      if (!(e instanceof TxBoom)) throw e
      threw = true
    }
    if (threw) {
      eq(db.version, before, 'a transaction that threw: db.version')
    } else {
      if (ret !== token) fail('transaction() did not return the callback result')
      if (wrote) m.commit(d)
      eq(db.version, m.version, `transaction (${wrote ? 'with' : 'without'} writes): db.version`)
    }
    expectThrow(() => txRef!.get(Buffer.from('61', 'hex')), 'ERR_TRANSACTION_CLOSED', 'tx.get after the transaction')
    expectThrow(() => txRef!.put(Buffer.from('61', 'hex'), Buffer.alloc(1)), 'ERR_TRANSACTION_CLOSED', 'tx.put after the transaction')
    expectThrow(() => lingering!.next(), 'ERR_TRANSACTION_CLOSED', 'a tx iterator after the transaction')
    if (threw || !wrote) checkAll(db, m.latest, m.keys(), 'db after a transaction that committed nothing')
  }

  /** Applies one write to a transaction and the draft; returns whether a put/delete was called. */
  private txWrite(tx: Transaction, w: WriteOp, d: Contents): boolean {
    switch (w.t) {
      case 'put': {
        const k = resolveKey(w.key, sortedKeys(d))
        const v = makeVal(w.val)
        tx.put(karg(k), varg(v))
        scribble()
        d.set(k, v)
        return true
      }
      case 'del': {
        const k = resolveKey(w.key, sortedKeys(d))
        eq(tx.delete(karg(k)), d.has(k), `tx.delete(${short(k)}) result`)
        d.delete(k)
        return true
      }
      case 'fill': {
        const entries = fillEntries(w.fill)
        for (const [k, v] of entries) {
          tx.put(karg(k), varg(v))
          scribble()
          d.set(k, v)
        }
        return entries.length > 0
      }
      case 'purge': {
        const del = purgeKeys(sortedKeys(d), w.keep, w.offset)
        for (const k of del) {
          eq(tx.delete(karg(k)), true, `tx purge delete(${short(k)}) of a present key`)
          d.delete(k)
        }
        return del.length > 0
      }
    }
  }

  private txStep(tx: Transaction, o: TxOp, d: Contents, live: LiveIter[]): boolean {
    switch (o.t) {
      case 'open': {
        const keys = sortedKeys(d)
        const rr = resolveRange(o.range, keys)
        const it = o.api === 'range' ? tx.range(rr.db) : o.api === 'keys' ? tx.keys(rr.db) : tx.values(rr.db)
        scribbleBounds(rr)
        live.push(new LiveIter(it, o.api, modelRange(d, keys, rr.model), `live tx.${o.api}(${describeRange(rr.model)})`))
        return false
      }
      case 'pull':
        live[o.i % Math.max(1, live.length)]?.pull(o.n)
        return false
      case 'put':
      case 'del':
      case 'fill':
      case 'purge':
        return this.txWrite(tx, o, d)
      case 'get':
      case 'has':
        checkGet(tx, d, resolveKey(o.key, sortedKeys(d)), 'tx')
        return false
      case 'read': {
        const keys = sortedKeys(d)
        checkRead(tx, d, keys, o.api, resolveRange(o.range, keys), 'tx')
        return false
      }
      case 'iter': {
        const keys = sortedKeys(d)
        const rr = resolveRange(o.range, keys)
        const expected = modelRange(d, keys, rr.model)
        const it = o.api === 'range' ? tx.range(rr.db) : o.api === 'keys' ? tx.keys(rr.db) : tx.values(rr.db)
        scribbleBounds(rr)
        const got: unknown[] = []
        const pull = (): void => {
          const n = it.next()
          if (n.done !== true) got.push(n.value)
        }
        for (let i = 0; i < o.take; i++) pull()
        let wrote = false
        for (const w of o.writes) {
          if (this.txWrite(tx, w, d)) wrote = true
          pull()
        }
        for (let n = it.next(); n.done !== true; n = it.next()) got.push(n.value)
        const what = `tx.${o.api}(${describeRange(rr.model)}) read across ${o.writes.length} later tx writes`
        if (o.api === 'range') comparePairs(got as [Buffer, Buffer][], expected, what)
        else if (o.api === 'keys') compareKeys(got as Buffer[], expected.map((e) => e[0]), what)
        else compareValues(got as Buffer[], expected.map((e) => e[1]), what)
        // and the transaction's own view after those writes
        const after = sortedKeys(d)
        checkRead(tx, d, after, 'range', resolveRange(o.range, after), 'tx after iter writes')
        return wrote
      }
      case 'dbWrite': {
        expectThrow(() => this.db.put(hexBuf('61'), Buffer.alloc(1)), TypeError, 'db.put inside a transaction')
        // the db handle still shows the committed state, not the transaction's
        eq(this.db.count(), this.model.latest.size, 'db.count() inside a transaction')
        eq(this.db.version, this.model.version, 'db.version inside a transaction')
        return false
      }
    }
  }

  private history(h: HistorySpec): void {
    const m = this.model
    const db = this.db
    const full = [...db.history()]
    const alive = m.aliveVersions()
    if (full.map((c) => c.version).join(',') !== alive.join(',')) {
      fail(`history(): expected versions [${abbrev(alive)}], got [${abbrev(full.map((c) => c.version))}]`)
    }
    const byVersion = new Map(full.map((c) => [c.version, c]))
    let prevTime = -Infinity
    for (let j = 0; j < full.length; j++) {
      const c = full[j]!
      const i = c.version
      eq(c.entries, m.contents(i).size, `history()[${i}].entries`)
      eq(c.rollbackOf, m.meta[i]!.rollbackOf, `history()[${i}].rollbackOf`)
      if (c.time.getTime() < prevTime) fail(`history()[${i}].time ${c.time.toISOString()} is before the previous commit's`)
      prevTime = c.time.getTime()
      eq(c.treeBytes === 0, c.entries === 0, `history()[${i}]: treeBytes is 0 exactly when the tree is empty (treeBytes ${c.treeBytes})`)
      if (!(c.bytes > 0)) fail(`history()[${i}].bytes = ${c.bytes}`)
      const src = c.rollbackOf === undefined ? undefined : byVersion.get(c.rollbackOf)
      if (src !== undefined) eq(c.treeBytes, src.treeBytes, `history()[${i}] rollback of v${c.rollbackOf}: treeBytes`)
    }
    let want = full.map((c) => c.version)
    want = want.filter(
      (v) =>
        (h.gt === undefined || v > h.gt) && (h.gte === undefined || v >= h.gte) && (h.lt === undefined || v < h.lt) && (h.lte === undefined || v <= h.lte),
    )
    if (h.reverse === true) want.reverse()
    if (h.limit !== undefined) want = want.slice(0, h.limit)
    const got = [...db.history(h)].map((c) => c.version)
    if (got.join(',') !== want.join(',')) fail(`history(${JSON.stringify(h)}): expected versions [${abbrev(want)}], got [${abbrev(got)}]`)
  }

  private reopen(o: Extract<Op, { t: 'reopen' }>): void {
    const m = this.model
    // live iterators: drained before the close, or (probe) must die with it
    if (!o.probe) this.drainLive()
    const dying = this.live
    this.live = []
    if (o.probe) {
      const it = this.db.keys()
      const s = this.db.checkout(this.db.version)
      this.db.close()
      expectThrow(() => it.next(), 'ERR_CLOSED', 'an iterator after close()')
      for (const l of dying) l.iter.expectDead('ERR_CLOSED', 'a live iterator after close()')
      expectThrow(() => s.get(hexBuf('61')), 'ERR_CLOSED', 'a snapshot after close()')
      expectThrow(() => this.db.get(hexBuf('61')), 'ERR_CLOSED', 'db.get after close()')
      expectThrow(() => this.db.put(hexBuf('61'), Buffer.alloc(0)), 'ERR_CLOSED', 'db.put after close()')
      this.db.close() // idempotent
    } else {
      this.db.close()
    }
    this.snaps = []
    this.cfg = { ...this.cfg, durability: o.durability, nodeSize: o.nodeSize, cacheSize: o.cacheSize }
    this.openDb()
    eq(this.db.version, m.version, 'version after reopen')
    eq(this.db.recovery.tornBytes, 0, 'tornBytes after a clean close')
    checkAll(this.db, m.latest, m.keys(), 'after reopen')
  }

  private readerStep(vSpec: number): void {
    const m = this.model
    if (this.reader === undefined) this.reader = open(this.file, { readOnly: true })
    else eq(this.reader.refresh(), m.version, 'reader.refresh()')
    const r = this.reader
    eq(r.version, m.version, 'reader.version')
    checkAll(r, m.latest, m.keys(), 'read-only handle')
    this.checkHistoryVersions(r, 'read-only handle')
    // a snapshot the reader took at an earlier step stays readable (across commits, compactions)
    if (this.readerSnap !== undefined) {
      const s = this.readerSnap
      checkAll(s, m.contents(s.version), m.keys(s.version), `read-only handle's snapshot of v${s.version}, after refresh()`)
    }
    const v = this.pickVersion(vSpec)
    if (m.alive[v]) {
      const s = r.checkout(v)
      checkAll(s, m.contents(v), m.keys(v), `read-only handle checkout(${v})`)
      this.readerSnap = s
    } else expectThrow(() => r.checkout(v), 'ERR_VERSION_NOT_FOUND', `read-only handle checkout(${v}) of a compacted-away version`)
    expectThrow(() => r.put(hexBuf('61'), Buffer.alloc(0)), 'ERR_READ_ONLY', 'put on a read-only handle')
  }

  private bad(kind: string): void {
    const db = this.db
    const m = this.model
    const k = this.present()[0] ?? '61'
    switch (kind) {
      case 'emptyPut':
        expectThrow(() => db.put(Buffer.alloc(0), Buffer.from('x')), 'ERR_INVALID_KEY', 'put with an empty key')
        expectThrow(() => db.put('', 'x'), 'ERR_INVALID_KEY', "put('')")
        break
      case 'emptyDel':
        expectThrow(() => db.delete(Buffer.alloc(0)), 'ERR_INVALID_KEY', 'delete with an empty key')
        break
      case 'emptyInBatch':
        expectThrow(
          () =>
            db.batch([
              { type: 'put', key: hexBuf(k), value: Buffer.from('batch-not-applied') },
              { type: 'del', key: hexBuf(m.keys()[1] ?? '62') },
              { type: 'put', key: Buffer.alloc(0), value: Buffer.alloc(1) },
            ]),
          'ERR_INVALID_KEY',
          'batch with an empty key last',
        )
        break
      case 'tooLongPut':
        expectThrow(() => db.put(Buffer.alloc(4097, 0x61), Buffer.alloc(1)), 'ERR_KEY_TOO_LARGE', 'put with a 4097-byte key')
        break
      case 'tooLongInTx':
        expectThrow(
          () =>
            db.transaction((tx) => {
              tx.put(hexBuf(k), Buffer.from('tx-not-applied'))
              tx.delete(hexBuf(m.keys()[1] ?? '62'))
              tx.put(Buffer.alloc(4097, 0x61), Buffer.alloc(1))
            }),
          'ERR_KEY_TOO_LARGE',
          'transaction putting a 4097-byte key',
        )
        break
      case 'futureCheckout':
        expectThrow(() => db.checkout(m.version + 1), 'ERR_VERSION_NOT_FOUND', `checkout(${m.version + 1})`)
        break
      case 'futureRollback':
        expectThrow(() => db.rollback(m.version + 1), 'ERR_VERSION_NOT_FOUND', `rollback(${m.version + 1})`)
        break
      case 'negativeCheckout':
        expectThrow(() => db.checkout(-1), RangeError, 'checkout(-1)')
        break
    }
    eq(db.version, m.version, `db.version after a rejected ${kind}`)
    checkGet(db, m.latest, k, `after a rejected ${kind}`)
    checkGet(db, m.latest, m.keys()[1] ?? '62', `after a rejected ${kind}`)
  }
}

export function runCase(dir: string, cfg: RunConfig, ops: readonly Op[]): Promise<RunResult> {
  return new Harness(dir, cfg).run(ops)
}

export { compareHex }
