/**
 * Shared pieces of the fault tests: a seeded workload of commits whose expected contents
 * at every version are computed up front (a model that keeps every version), a runner
 * that plays it against a database on a SimFileIO until it finishes or the sim crashes,
 * and checks that compare a database (and its checkouts) against the model.
 */
import { CambiumError, open, type Database, type Durability, type FileHandle, type FileIO, type OpenMode } from '../../src/index.js'
import { Rng } from '../helpers/rng.js'
import type { SimFileIO } from '../helpers/sim-file-io.js'

export const DB_PATH = '/data/fault.cambium'

export type Contents = ReadonlyMap<string, Buffer>

export type WriteStep =
  | { t: 'put'; k: string; v: Buffer }
  | { t: 'del'; k: string }
  | { t: 'batch'; ops: Array<{ t: 'put'; k: string; v: Buffer } | { t: 'del'; k: string }> }
  /** `abort`: the callback throws after writing, so nothing is committed (and nothing written). */
  | { t: 'tx'; ops: Array<{ t: 'put'; k: string; v: Buffer } | { t: 'del'; k: string }>; abort: boolean }
  | { t: 'rollback'; to: number }

export interface Step {
  op: WriteStep
  /** The version the step commits, or undefined if it commits nothing. */
  commits: number | undefined
}

export interface Workload {
  seed: number
  steps: Step[]
  /** versions[v]: the contents of version v (versions[0] is the empty database). */
  versions: Contents[]
  /** Every key any version holds, sorted, plus a few never written (for gets). */
  probeKeys: string[]
}

/** Deterministic value bytes. */
export function makeValue(rng: Rng, len: number): Buffer {
  const b = Buffer.allocUnsafe(len)
  const base = rng.int(256)
  const step = 1 + rng.int(250)
  for (let i = 0; i < len; i++) b[i] = (base + i * step + (i >> 5)) & 0xff
  return b
}

export interface WorkloadShape {
  /** Commits after the initial load (the load itself is a few batches). */
  commits: number
  /** Keys put by the initial load batches. */
  loadKeys: number
}

function pickValue(rng: Rng): Buffer {
  const r = rng.next()
  // ~15% out of line (> 256 bytes), a few empty values, the rest small inline values.
  if (r < 0.15) return makeValue(rng, rng.range(257, 1400))
  if (r < 0.18) return Buffer.alloc(0)
  return makeValue(rng, rng.range(1, 90))
}

function pickKey(rng: Rng): string {
  const r = rng.next()
  if (r < 0.1) return `long/${'segment-'.repeat(rng.range(2, 8))}${rng.int(50)}`
  if (r < 0.2) return `x${rng.int(20)}`
  return `key/${String(rng.int(400)).padStart(4, '0')}`
}

/** A seeded workload: a few load batches, then puts, deletes, batches, transactions (one aborted) and rollbacks. */
export function makeWorkload(seed: number, shape: WorkloadShape): Workload {
  const rng = new Rng(seed)
  const versions: Contents[] = [new Map()]
  const steps: Step[] = []
  const everKeys = new Set<string>()
  const cur = (): Map<string, Buffer> => new Map(versions[versions.length - 1]!)
  const present = (): string[] => [...versions[versions.length - 1]!.keys()]
  const existingOrNew = (): string => {
    const p = present()
    return p.length > 0 && rng.bool(0.7) ? rng.pick(p) : pickKey(rng)
  }
  const commit = (op: WriteStep, next: Map<string, Buffer>): void => {
    for (const k of next.keys()) everKeys.add(k)
    versions.push(next)
    steps.push({ op, commits: versions.length - 1 })
  }
  const applyOps = (m: Map<string, Buffer>, ops: Array<{ t: 'put'; k: string; v: Buffer } | { t: 'del'; k: string }>): void => {
    for (const o of ops) {
      if (o.t === 'put') m.set(o.k, o.v)
      else m.delete(o.k)
    }
  }

  // Load: a few batches so the tree is a few levels deep from early on.
  let loaded = 0
  while (loaded < shape.loadKeys) {
    const n = Math.min(shape.loadKeys - loaded, rng.range(15, 40))
    const ops = Array.from({ length: n }, () => ({ t: 'put' as const, k: pickKey(rng), v: pickValue(rng) }))
    const m = cur()
    applyOps(m, ops)
    commit({ t: 'batch', ops }, m)
    loaded += n
  }
  const abortAt = rng.int(shape.commits)
  const rollbacksAt = new Set([rng.int(shape.commits), rng.int(shape.commits)])
  for (let i = 0; i < shape.commits; i++) {
    if (i === abortAt) {
      const ops = [
        { t: 'put' as const, k: existingOrNew(), v: pickValue(rng) },
        { t: 'del' as const, k: existingOrNew() },
      ]
      steps.push({ op: { t: 'tx', ops, abort: true }, commits: undefined })
    }
    if (rollbacksAt.has(i) && versions.length > 2) {
      const to = rng.int(versions.length - 1)
      commit({ t: 'rollback', to }, new Map(versions[to]!))
      continue
    }
    const r = rng.next()
    const m = cur()
    if (r < 0.4) {
      const op = { t: 'put' as const, k: existingOrNew(), v: pickValue(rng) }
      applyOps(m, [op])
      commit(op, m)
    } else if (r < 0.55) {
      // Deletes: mostly present keys, sometimes absent ones (a commit is still made).
      const op = { t: 'del' as const, k: existingOrNew() }
      applyOps(m, [op])
      commit(op, m)
    } else if (r < 0.8) {
      const ops = Array.from({ length: rng.range(1, 12) }, () =>
        rng.bool(0.7) ? { t: 'put' as const, k: existingOrNew(), v: pickValue(rng) } : { t: 'del' as const, k: existingOrNew() },
      )
      applyOps(m, ops)
      commit({ t: 'batch', ops }, m)
    } else {
      // A transaction always puts at least once, so it always commits.
      const ops: Array<{ t: 'put'; k: string; v: Buffer } | { t: 'del'; k: string }> = [{ t: 'put', k: existingOrNew(), v: pickValue(rng) }]
      for (let j = rng.range(0, 6); j > 0; j--) {
        ops.push(rng.bool(0.6) ? { t: 'put', k: existingOrNew(), v: pickValue(rng) } : { t: 'del', k: existingOrNew() })
      }
      applyOps(m, ops)
      commit({ t: 'tx', ops, abort: false }, m)
    }
  }
  const probeKeys = [...everKeys, 'absent/0', 'key/9999', 'zzz'].sort(cmpKey)
  return { seed, steps, versions, probeKeys }
}

/** A workload from an explicit list of steps (the model computes every version). */
export function planFrom(ops: WriteStep[], seed = 0): Workload {
  const versions: Contents[] = [new Map()]
  const steps: Step[] = []
  const keys = new Set<string>()
  for (const op of ops) {
    const m = new Map(versions[versions.length - 1]!)
    const writes = op.t === 'put' || op.t === 'del' ? [op] : op.t === 'batch' || op.t === 'tx' ? op.ops : []
    if (op.t === 'tx' && op.abort) {
      steps.push({ op, commits: undefined })
      continue
    }
    if (op.t === 'rollback') {
      const src = versions[op.to]
      if (src === undefined) throw new Error(`rollback to ${op.to}: no such version yet`)
      versions.push(new Map(src))
    } else {
      if (op.t === 'batch' && op.ops.length === 0) throw new Error('an empty batch commits nothing; not supported here')
      for (const w of writes) {
        keys.add(w.k)
        if (w.t === 'put') m.set(w.k, w.v)
        else m.delete(w.k)
      }
      versions.push(m)
    }
    steps.push({ op, commits: versions.length - 1 })
  }
  return { seed, steps, versions, probeKeys: [...keys, 'absent/0'].sort(cmpKey) }
}

/** Bytewise order of UTF-8 keys (the engine's order). */
export function cmpKey(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

export type Db = Database<string, Buffer>

export interface DbOptions {
  durability: Durability
  nodeSize?: number
  readOnly?: boolean
  create?: boolean
  /** the open option `preallocate` (bytes of reserved zeros; default 0) */
  preallocate?: number
}

/** A FileIO over `sim` whose file handles pass through `wrap` (to inject behaviour the sim lacks). */
export function layeredIO(sim: SimFileIO, wrap: (h: FileHandle, path: string) => FileHandle): FileIO {
  return {
    open: (path: string, mode: OpenMode) => wrap(sim.open(path, mode), path),
    exists: (p: string) => sim.exists(p),
    rename: (a: string, b: string) => sim.rename(a, b),
    unlink: (p: string) => sim.unlink(p),
    syncDir: (d: string) => sim.syncDir(d),
    lock: (p: string) => sim.lock(p),
    fileId: (p: string) => sim.fileId(p),
  }
}

/** Opens the database on `sim` (or on `io`, a FileIO layered over it, when given). */
export function openDb(sim: SimFileIO, o: DbOptions, path = DB_PATH, io?: FileIO): Db {
  return open(path, {
    fileIO: io ?? sim,
    keyEncoding: 'utf8',
    durability: o.durability,
    nodeSize: o.nodeSize ?? 512,
    ...(o.preallocate !== undefined ? { preallocate: o.preallocate } : {}),
    ...(o.readOnly === true ? { readOnly: true } : {}),
    ...(o.create !== undefined && o.readOnly !== true ? { create: o.create } : {}),
  })
}

class Aborted extends Error {}

/** Performs one step; returns the version it reports (for an aborted transaction: the unchanged version). */
export function applyStep(db: Db, op: WriteStep): number {
  switch (op.t) {
    case 'put':
      return db.put(op.k, op.v)
    case 'del':
      return db.delete(op.k)
    case 'batch':
      return db.batch(op.ops.map((o) => (o.t === 'put' ? { type: 'put' as const, key: o.k, value: o.v } : { type: 'del' as const, key: o.k })))
    case 'rollback':
      return db.rollback(op.to)
    case 'tx':
      try {
        db.transaction((tx) => {
          for (const o of op.ops) {
            if (o.t === 'put') tx.put(o.k, o.v)
            else tx.delete(o.k)
          }
          if (op.abort) throw new Aborted('abort')
        })
      } catch (e) {
        if (!(op.abort && e instanceof Aborted)) throw e
      }
      return db.version
  }
}

/** Collects the injected failures runWorkload retried. */
export interface RetryLog {
  failures: string[]
}

export interface RunResult {
  /** Version the last successful commit returned (0 once creation finished), -1 if open() never returned. */
  lastAcked: number
  /** lastAcked + 1 if a commit was in flight at the crash, else lastAcked (0 during creation). */
  lastAttempted: number
  crashed: boolean
  /** Where the crash hit: 'open', 'step <i>' or 'close'. */
  where: string
}

/**
 * Plays the workload on `sim` (open with create, every step, close) until the sim crashes;
 * `io`, if given, is the FileIO the database uses (a wrapper over `sim`).
 * Any failure that is not the simulated crash is rethrown.
 */
export function runWorkload(sim: SimFileIO, wl: Workload, o: DbOptions, io?: FileIO, retry?: RetryLog): RunResult {
  let db: Db
  try {
    db = openDb(sim, o, DB_PATH, io)
  } catch (e) {
    if (sim.isCrashed) return { lastAcked: -1, lastAttempted: 0, crashed: true, where: 'open' }
    throw e
  }
  let lastAcked = 0
  for (let i = 0; i < wl.steps.length; i++) {
    const s = wl.steps[i]!
    const lastAttempted = s.commits ?? lastAcked
    let v: number
    try {
      v = applyStep(db, s.op)
    } catch (e) {
      if (sim.isCrashed) return { lastAcked, lastAttempted, crashed: true, where: `step ${i}` }
      // An injected I/O error (with `retry`): the commit must have left no trace; retry it once.
      if (retry === undefined || !isCambium(e, 'ERR_NO_SPACE', 'ERR_IO')) throw e
      retry.failures.push(`step ${i}: ${e.code}`)
      if (db.version !== lastAcked) throw new Error(`step ${i} failed with ${e.code} but the version moved to ${db.version}`)
      try {
        v = applyStep(db, s.op)
      } catch (e2) {
        if (sim.isCrashed) return { lastAcked, lastAttempted, crashed: true, where: `step ${i} (retried)` }
        throw e2
      }
    }
    const expected = s.commits ?? lastAcked
    if (v !== expected) throw new Error(`step ${i} (${s.op.t}) returned version ${v}, expected ${expected}`)
    lastAcked = v
  }
  try {
    db.close()
  } catch (e) {
    if (sim.isCrashed) return { lastAcked, lastAttempted: lastAcked, crashed: true, where: 'close' }
    throw e
  }
  return { lastAcked, lastAttempted: lastAcked, crashed: false, where: 'end' }
}

// ---------------------------------------------------------------------------------------
// Checks

export class Mismatch extends Error {
  override readonly name = 'Mismatch'
}

function describeVal(b: Buffer | undefined): string {
  if (b === undefined) return 'undefined'
  return `<${b.length} bytes ${b.subarray(0, 8).toString('hex')}${b.length > 8 ? '…' : ''}>`
}

/** Something with the read API (a Database or a Snapshot). */
interface Readable {
  range(): IterableIterator<[string, Buffer]>
  get(k: string): Buffer | undefined
  count(): number
}

const sortedCache = new WeakMap<Contents, Array<[string, Buffer]>>()
export function sortedEntries(c: Contents): Array<[string, Buffer]> {
  let s = sortedCache.get(c)
  if (s === undefined) {
    s = [...c].sort((a, b) => cmpKey(a[0], b[0]))
    sortedCache.set(c, s)
  }
  return s
}

/** Full scan, count and (optionally) a get of every probe key must equal `want`. Throws Mismatch. */
export function checkContents(r: Readable, want: Contents, what: string, probeKeys?: readonly string[]): void {
  const exp = sortedEntries(want)
  let i = 0
  for (const [k, v] of r.range()) {
    const e = exp[i]
    if (e === undefined) throw new Mismatch(`${what}: scan yields extra key ${JSON.stringify(k)} after ${exp.length} entries`)
    if (e[0] !== k) throw new Mismatch(`${what}: scan entry ${i} is key ${JSON.stringify(k)}, expected ${JSON.stringify(e[0])}`)
    if (!e[1].equals(v)) throw new Mismatch(`${what}: scan value of ${JSON.stringify(k)} is ${describeVal(v)}, expected ${describeVal(e[1])}`)
    i++
  }
  if (i !== exp.length) throw new Mismatch(`${what}: scan yields ${i} entries, expected ${exp.length}`)
  const n = r.count()
  if (n !== exp.length) throw new Mismatch(`${what}: count() is ${n}, expected ${exp.length}`)
  if (probeKeys !== undefined) {
    for (const k of probeKeys) {
      const got = r.get(k)
      const e = want.get(k)
      if (e === undefined ? got !== undefined : got === undefined || !e.equals(got)) {
        throw new Mismatch(`${what}: get(${JSON.stringify(k)}) is ${describeVal(got)}, expected ${describeVal(e)}`)
      }
    }
  }
}

/** The latest version and every checkout 0..version equal the model (gets of every probe key on the latest). */
export function checkAllVersions(db: Db, versions: readonly Contents[], what: string, probeKeys?: readonly string[], getsOnOld = false): void {
  const v = db.version
  const want = versions[v]
  if (want === undefined) throw new Mismatch(`${what}: version ${v} was never committed`)
  checkContents(db, want, `${what} latest v${v}`, probeKeys)
  for (let u = 0; u <= v; u++) {
    const snap = db.checkout(u)
    if (snap.version !== u) throw new Mismatch(`${what}: checkout(${u}).version is ${snap.version}`)
    checkContents(snap, versions[u]!, `${what} checkout(${u})`, getsOnOld ? probeKeys : undefined)
  }
}

export function isCambium(e: unknown, ...codes: string[]): e is CambiumError {
  return e instanceof CambiumError && (codes.length === 0 || codes.includes(e.code))
}

export function describeError(e: unknown): string {
  if (e instanceof CambiumError) return `CambiumError ${e.code}: ${e.message}`
  if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack ?? ''}`
  return String(e)
}

/**
 * Lets the event loop turn. The engine tracks snapshots and iterators with WeakRefs, and a
 * WeakRef keeps its target alive until the current job ends: a long synchronous loop of reads
 * would otherwise hold every iterator it ever made (see the report, LEAK-1). Long sweeps await
 * this now and then.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
