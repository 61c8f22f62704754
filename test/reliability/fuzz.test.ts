/**
 * Fuzz: random and mutated files (fuzz-gen.ts) fed to the whole read path. Each input is:
 *   1. opened read-only; then history(), and for every version (up to 300): checkout, a full
 *      scan, count(), a reverse scan of a few entries and a get() of some scanned keys;
 *   2. checked with checkDatabase(path, { allVersions: true });
 *      Then bytes are appended to the file (a piece of its own tail) and refresh() is called.
 *   3. opened read-write on a copy (recovery cuts a torn tail): the latest version scanned,
 *      for 1 input in 4 a compact({ keep: 'all' }), one put committed, closed, reopened
 *      read-only and the new version read back.
 * Every 100th input goes through real temp files instead of SimFileIO (CAMBIUM_FUZZ_REAL_EVERY).
 *
 * Rules (any breach fails the test, with the input saved under .tmp/fuzz-failures/):
 *   - the only exceptions are CambiumError (any code); TypeError, RangeError, DecodeError,
 *     SyntaxError or anything else escaping is a bug; checkDatabase never throws and never
 *     reports "the check stopped early" (an exception inside the checker);
 *   - each input finishes in bounded time (CAMBIUM_FUZZ_MAX_MS, default 2000 ms);
 *   - consistency: the read-only and the read-write open agree on the version (or fail
 *     alike, except that only a read-write open refuses a future writeVersion); when
 *     checkDatabase says the file is OK, every read above succeeded, count() equals the scan,
 *     every get() equals the scan and scans are in key order; an unmutated corpus file opens
 *     cleanly and checks OK.
 * Damage with consistent CRCs ('deep', forged commits) can make reads of a file that the check
 * rejects disagree (a leaf whose keys fall outside its parent's separators: a scan out of key
 * order, a get() that misses): counted and reported, not a failure, as long as the check
 * rejects that file.
 *
 *   CAMBIUM_FUZZ_INPUTS (default 4000), CAMBIUM_FUZZ_SEED (default 1), CAMBIUM_FUZZ_FROM (first
 *   input index, default 0), CAMBIUM_FUZZ_REPLAY=<file> runs one saved input.
 * The soak (tools/soak/fuzz-soak.sh) runs 100,000+ inputs over fresh seeds.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkDatabase, type CheckResult } from '../../src/check/check.js'
import { CambiumError, open, type Database, type FileIO } from '../../src/index.js'
import { realFileIO } from '../../src/io/real-file-io.js'
import { SimFileIO } from '../helpers/sim-file-io.js'
import { corpus, makeInput, type FuzzInput } from './fuzz-gen.js'

const envInt = (name: string, dflt: number): number => {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${v}`)
  return n
}
const INPUTS = envInt('CAMBIUM_FUZZ_INPUTS', 4000)
const SEED = envInt('CAMBIUM_FUZZ_SEED', 1)
/** First input index (a hang the soak reports at input i: CAMBIUM_FUZZ_FROM=i CAMBIUM_FUZZ_INPUTS=1). */
const FROM = envInt('CAMBIUM_FUZZ_FROM', 0)
const MAX_MS = envInt('CAMBIUM_FUZZ_MAX_MS', 2000)
const REPLAY = process.env['CAMBIUM_FUZZ_REPLAY']
const PROGRESS = process.env['CAMBIUM_FUZZ_PROGRESS'] // the soak's hang detector reads it
const MAX_VERSIONS = 300
/** Every Nth input runs on real temp files (fsyncs: slower) instead of SimFileIO. */
const REAL_EVERY = envInt('CAMBIUM_FUZZ_REAL_EVERY', 100)
const FAIL_DIR = path.resolve(import.meta.dirname, '../../.tmp/fuzz-failures')
const DB = '/fuzz/db.cambium'

type Db = Database<Buffer, Buffer>

/** A breach of the rules: a bug, reported with the input. */
class Breach extends Error {
  override readonly name = 'Breach'
}

function describeError(e: unknown): string {
  if (e instanceof CambiumError) return `CambiumError ${e.code}: ${e.message}`
  if (e instanceof Error) return `${e.constructor.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 8).join('\n')}`
  return `non-Error thrown: ${String(e)}`
}

interface Stats {
  inputs: number
  byMutation: Map<string, number>
  openRo: Map<string, number>
  openRw: Map<string, number>
  readErrors: Map<string, number>
  checkOk: number
  checkErrors: number
  clean: number
  versionsScanned: number
  entriesScanned: number
  realFileInputs: number
  maxMs: number
  maxInput: string
  totalMs: number
  countMismatch: number
  getMismatch: number
  orderViolations: number
  compactions: number
}

const bump = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1)

/** Runs fn; a CambiumError is returned (not thrown), anything else becomes a Breach. */
function guarded<T>(what: string, fn: () => T): T | CambiumError {
  try {
    return fn()
  } catch (e) {
    if (e instanceof CambiumError) return e
    if (e instanceof Breach) throw e
    throw new Breach(`${what}: ${describeError(e)}`)
  }
}

interface ReadReport {
  version: number
  /** the first CambiumError met while reading, if any */
  error: CambiumError | undefined
  countMismatch: boolean
  getMismatch: boolean
  /** a scan yielded keys out of order (forged damage with consistent CRCs can do this) */
  orderViolation: boolean
  versions: number
  entries: number
}

/** Reads everything through `db`; CambiumErrors stop a version's reads and are reported. */
function readAll(db: Db, stats: Stats): ReadReport {
  const rep: ReadReport = { version: db.version, error: undefined, countMismatch: false, getMismatch: false, orderViolation: false, versions: 0, entries: 0 }
  const note = (r: unknown): boolean => {
    if (r instanceof CambiumError) {
      rep.error ??= r
      bump(stats.readErrors, r.code)
      return true
    }
    return false
  }
  const hist = guarded('history()', () => [...db.history()].map((c) => c.version))
  if (note(hist)) return rep
  const versions = hist as number[]
  if (versions[versions.length - 1] !== db.version) throw new Breach(`history() ends at ${versions[versions.length - 1]}, db.version is ${db.version}`)
  for (let i = 1; i < versions.length; i++) if (!(versions[i]! > versions[i - 1]!)) throw new Breach(`history() versions not increasing: ${versions[i - 1]}, ${versions[i]}`)
  const pick = versions.length <= MAX_VERSIONS ? versions : versions.filter((_, i) => i % Math.ceil(versions.length / MAX_VERSIONS) === 0 || i === versions.length - 1)
  for (const v of pick) {
    const r = guarded(`version ${v}`, () => {
      const snap = db.checkout(v)
      if (snap.version !== v) throw new Breach(`checkout(${v}).version is ${snap.version}`)
      const seen: Array<[Buffer, Buffer]> = []
      let prev: Buffer | undefined
      let total = 0
      for (const [k, val] of snap.range()) {
        if (prev !== undefined && Buffer.compare(prev, k) >= 0) rep.orderViolation = true
        prev = k
        if (total % 7 === 0 && seen.length < 24) seen.push([k, val])
        total++
      }
      rep.entries += total
      if (snap.count() !== total) rep.countMismatch = true
      for (const [k, val] of seen) {
        const g = snap.get(k)
        if (g === undefined || !g.equals(val)) rep.getMismatch = true
      }
      let back = 0
      for (const _ of snap.range({ reverse: true, limit: 5 })) back++
      if (back !== Math.min(5, total)) rep.countMismatch = true
      return true
    })
    rep.versions++
    note(r)
  }
  return rep
}

function ioFor(bytes: Uint8Array, real: string | undefined): { io: FileIO | undefined; path: string; sim?: SimFileIO } {
  if (real !== undefined) {
    fs.writeFileSync(real, bytes)
    return { io: undefined, path: real }
  }
  const sim = SimFileIO.fromImage(new Map([[DB, bytes]]), { seed: 1 })
  return { io: sim, path: DB, sim }
}

function openWith(io: FileIO | undefined, p: string, readOnly: boolean): Db {
  return open(p, { ...(io ? { fileIO: io } : {}), ...(readOnly ? { readOnly: true } : {}), durability: 'none' }) as Db
}

/** One input, all steps. Returns nothing; throws Breach on a rule breach. */
function runOne(input: FuzzInput, stats: Stats, realDir: string | undefined, control: boolean): void {
  const real = realDir === undefined ? undefined : path.join(realDir, 'db.cambium')
  if (real !== undefined) {
    stats.realFileInputs++
    for (const f of fs.readdirSync(realDir!)) fs.rmSync(path.join(realDir!, f))
  }

  // 1. read-only
  let ro = ioFor(input.bytes, real)
  const roDb = guarded('open read-only', () => openWith(ro.io, ro.path, true))
  let roVersion: number | string
  let roRead: ReadReport | undefined
  if (roDb instanceof CambiumError) {
    roVersion = roDb.code
    bump(stats.openRo, roDb.code)
  } else {
    roVersion = roDb.version
    bump(stats.openRo, 'opened')
    try {
      roRead = readAll(roDb, stats)
      // A follower's view: bytes appear after the commit it trusts (a piece of the file's own
      // tail: often whole records, sometimes a commit look-alike), then refresh().
      if (ro.sim !== undefined && input.bytes.length > 0) {
        const k = (input.bytes.length % 300) + 1
        ro.sim.corruptBytes(ro.path, input.bytes.length, input.bytes.subarray(input.bytes.length - Math.min(k, input.bytes.length)))
        const r = guarded('refresh()', () => {
          const v = roDb.refresh()
          if (v < (roVersion as number)) throw new Breach(`refresh() went back from ${roVersion} to ${v}`)
          return roDb.count()
        })
        if (r instanceof CambiumError) bump(stats.readErrors, `refresh ${r.code}`)
      }
    } finally {
      guarded('close read-only', () => roDb.close())
    }
    stats.versionsScanned += roRead.versions
    stats.entriesScanned += roRead.entries
    if (roRead.countMismatch) stats.countMismatch++
    if (roRead.getMismatch) stats.getMismatch++
    if (roRead.orderViolation) stats.orderViolations++
  }

  // 2. check
  ro = ioFor(input.bytes, real)
  let check: CheckResult
  try {
    check = checkDatabase(ro.path, { allVersions: true, ...(ro.io ? { fileIO: ro.io } : {}) })
  } catch (e) {
    throw new Breach(`checkDatabase threw: ${describeError(e)}`)
  }
  const stopped = check.errors.find((e) => /the check stopped early/.test(e.message))
  if (stopped !== undefined) throw new Breach(`checkDatabase: an exception inside the checker: ${stopped.message}`)
  if (check.ok) stats.checkOk++
  else stats.checkErrors++
  if (check.ok) {
    if (typeof roVersion !== 'number') throw new Breach(`checkDatabase says OK (version ${check.version}), but the read-only open failed: ${roVersion}`)
    if (check.version !== roVersion) throw new Breach(`checkDatabase says OK at version ${check.version}, the read-only open is at ${roVersion}`)
    if (roRead?.error !== undefined) throw new Breach(`checkDatabase says OK, but a read failed: ${describeError(roRead.error)}`)
    if (roRead?.countMismatch) throw new Breach('checkDatabase says OK, but count() differs from a scan')
    if (roRead?.getMismatch) throw new Breach('checkDatabase says OK, but get() differs from a scan')
    if (roRead?.orderViolation) throw new Breach('checkDatabase says OK, but a scan yields keys out of order')
  }
  if (control && !check.ok) throw new Breach(`an unmutated corpus file fails the check: ${check.errors.map((e) => e.message).join('; ')}`)
  if (typeof roVersion === 'number' && roRead !== undefined && roRead.error === undefined && !roRead.countMismatch && !roRead.getMismatch && !roRead.orderViolation) stats.clean++

  // 3. read-write on a copy
  const rw = ioFor(input.bytes, real)
  const rwDb = guarded('open read-write', () => openWith(rw.io, rw.path, false))
  if (rwDb instanceof CambiumError) {
    bump(stats.openRw, rwDb.code)
    // A future writeVersion is the one allowed difference: a read-write open refuses it before
    // it looks for a commit (FORMAT.md §7 step 2.5), a read-only open goes on (and may succeed,
    // or fail later, e.g. with ERR_CORRUPT).
    if (rwDb.code !== 'ERR_UNSUPPORTED_VERSION') {
      if (typeof roVersion === 'number') throw new Breach(`the read-only open worked (version ${roVersion}), the read-write open failed: ${describeError(rwDb)}`)
      if (roVersion !== rwDb.code) throw new Breach(`open read-only failed with ${roVersion}, read-write with ${rwDb.code}`)
    }
    return
  }
  bump(stats.openRw, 'opened')
  try {
    if (roVersion !== rwDb.version) throw new Breach(`the read-only open says ${roVersion}, the read-write open ${rwDb.version}`)
    const v = rwDb.version
    const latest = guarded('read-write scan', () => {
      let n = 0
      for (const _ of rwDb.range()) n++
      return n
    })
    if (latest instanceof CambiumError) bump(stats.readErrors, `rw ${latest.code}`)
    // Compaction of a damaged file: a typed error, no leftover file, the handle still usable.
    if (rw.sim !== undefined && input.bytes.length % 4 === 0) {
      const c = guarded('compact()', () => rwDb.compact({ keep: 'all' }))
      stats.compactions++
      if (c instanceof CambiumError) bump(stats.readErrors, `compact ${c.code}`)
      const left = rw.sim.listFiles().filter((f) => f !== DB)
      if (left.length > 0) throw new Breach(`files left after compact(): ${left.join(', ')}`)
      if (!(c instanceof CambiumError) && rwDb.version !== v) throw new Breach(`compact() moved the version from ${v} to ${rwDb.version}`)
    }
    const put = guarded('read-write put', () => rwDb.put(Buffer.from('fuzz:new'), Buffer.from('value')))
    if (put instanceof CambiumError) {
      bump(stats.readErrors, `rw put ${put.code}`)
    } else {
      if (put !== v + 1) throw new Breach(`put returned version ${put}, expected ${v + 1}`)
      guarded('close read-write', () => rwDb.close())
      const again = guarded('reopen', () => openWith(rw.io, rw.path, true))
      if (again instanceof CambiumError) throw new Breach(`reopen after a successful commit failed: ${describeError(again)}`)
      try {
        if (again.version !== v + 1) throw new Breach(`reopened at version ${again.version}, expected ${v + 1}`)
        const got = guarded('read back', () => again.get(Buffer.from('fuzz:new')))
        if (!(got instanceof CambiumError) && (got === undefined || got.toString() !== 'value')) throw new Breach('the committed value does not read back')
        if (got instanceof CambiumError) bump(stats.readErrors, `reopen get ${got.code}`)
      } finally {
        guarded('close reopen', () => again.close())
      }
    }
  } finally {
    guarded('close read-write', () => rwDb.close())
  }
  if (rw.sim !== undefined && rw.sim.openHandleCount !== 0) throw new Breach(`${rw.sim.openHandleCount} file handles left open`)
}

function saveFailure(input: FuzzInput, index: number, e: unknown): string {
  fs.mkdirSync(FAIL_DIR, { recursive: true })
  const base = path.join(FAIL_DIR, `seed${SEED}-input${index}`)
  fs.writeFileSync(base + '.bin', input.bytes)
  fs.writeFileSync(base + '.json', JSON.stringify({ seed: SEED, index, corpus: input.seed, mutations: input.mutations, error: describeError(e) }, null, 2))
  return base + '.bin'
}

describe('fuzz: random and mutated files through open, full scans and check', () => {
  it(
    REPLAY ? `replay ${REPLAY}` : `${INPUTS} inputs (seed ${SEED}${FROM ? `, from ${FROM}` : ''}): only CambiumErrors, bounded time, consistent answers`,
    async () => {
      const seeds = corpus()
      const stats: Stats = {
        inputs: 0,
        byMutation: new Map(),
        openRo: new Map(),
        openRw: new Map(),
        readErrors: new Map(),
        checkOk: 0,
        checkErrors: 0,
        clean: 0,
        versionsScanned: 0,
        entriesScanned: 0,
        realFileInputs: 0,
        maxMs: 0,
        maxInput: '',
        totalMs: 0,
        countMismatch: 0,
        getMismatch: 0,
        orderViolations: 0,
        compactions: 0,
      }
      const realDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-fuzz-'))
      const failures: string[] = []
      const slow: string[] = []
      const t0 = Date.now()
      try {
        const inputs: Array<() => FuzzInput> = REPLAY
          ? [() => ({ bytes: new Uint8Array(fs.readFileSync(REPLAY)), seed: 'replay', mutations: [REPLAY] })]
          : Array.from({ length: INPUTS }, (_, i) => () => makeInput(seeds, SEED, FROM + i))
        for (let j = 0; j < inputs.length; j++) {
          const i = FROM + j
          const input = inputs[j]!()
          if (PROGRESS !== undefined) fs.writeFileSync(PROGRESS, `${SEED} ${i}\n`)
          for (const m of input.mutations) bump(stats.byMutation, m.split(/[ :]/)[0]!)
          const useReal = i % REAL_EVERY === REAL_EVERY - 1
          const t = performance.now()
          try {
            runOne(input, stats, useReal ? realDir : undefined, input.mutations.length === 0)
          } catch (e) {
            const saved = saveFailure(input, i, e)
            failures.push(`input ${i} (corpus ${input.seed}; ${input.mutations.join(' | ') || 'unmutated'}): ${e instanceof Breach ? e.message : describeError(e)}\n    saved: ${saved}`)
            if (failures.length >= 20) break
          }
          const ms = performance.now() - t
          stats.totalMs += ms
          if (ms > stats.maxMs) {
            stats.maxMs = ms
            stats.maxInput = `input ${i} (${input.seed}: ${input.mutations.join(' | ')}, ${input.bytes.length} bytes)`
          }
          if (ms > MAX_MS) slow.push(`input ${i} took ${ms.toFixed(0)} ms (${input.seed}: ${input.mutations.join(' | ')}); saved: ${saveFailure(input, i, new Error('slow'))}`)
          stats.inputs++
          // Let finalizers run now and then (the engine tracks snapshots with a FinalizationRegistry).
          if (i % 200 === 199) await new Promise((r) => setImmediate(r))
        }
      } finally {
        fs.rmSync(realDir, { recursive: true, force: true })
      }
      const fmt = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')
      console.log(
        `[fuzz] seed ${SEED}: ${stats.inputs} inputs in ${Date.now() - t0} ms (${stats.realFileInputs} on real files); ` +
          `bugs ${failures.length}, over ${MAX_MS} ms ${slow.length}; max ${stats.maxMs.toFixed(1)} ms per input (${stats.maxInput}), mean ${(stats.totalMs / Math.max(1, stats.inputs)).toFixed(2)} ms\n` +
          `[fuzz]   mutations: ${fmt(stats.byMutation)}\n` +
          `[fuzz]   read-only open: ${fmt(stats.openRo)}; read-write open: ${fmt(stats.openRw)}\n` +
          `[fuzz]   read errors: ${fmt(stats.readErrors) || 'none'}; inputs read cleanly end to end: ${stats.clean}; compactions tried ${stats.compactions}\n` +
          `[fuzz]   checkDatabase: OK ${stats.checkOk}, errors found ${stats.checkErrors}; versions scanned ${stats.versionsScanned}, entries ${stats.entriesScanned}; ` +
          `inputs with count()/scan disagreements ${stats.countMismatch}, get()/scan disagreements ${stats.getMismatch}, scans out of key order ${stats.orderViolations} (all in files the check rejects)`,
      )
      expect(failures, `fuzz breaches (replay one with CAMBIUM_FUZZ_REPLAY=<saved .bin>):\n${failures.join('\n')}`).toEqual([])
      expect(slow, `inputs over ${MAX_MS} ms:\n${slow.join('\n')}`).toEqual([])
    },
    Math.max(120_000, INPUTS * 100),
  )
})
