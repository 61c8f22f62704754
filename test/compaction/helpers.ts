/**
 * Shared pieces of the compaction tests: an independent statement of the keep policies
 * (FORMAT.md §11, "Kept versions"), a versioned model, and checks of a database against it.
 */
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
import { CambiumError, type Database, type KeepPolicy } from '../../src/index.js'
import { cmpKey } from '../fault/workload.js'

export type Db = Database<string, Buffer>
export type Contents = ReadonlyMap<string, Buffer>

export class Mismatch extends Error {
  override readonly name = 'Mismatch'
}

export function fail(msg: string): never {
  throw new Mismatch(msg)
}

export interface VersionTime {
  version: number
  time: number
}

/**
 * The versions a compaction keeps, given the versions in the file (ascending) and their commit
 * times, written from the documentation, not from selectVersions:
 *  'latest' the newest; 'all' every one; { since: v } those >= v; { since: date } those committed
 *  at or after the date; { every: ms } the last version of each window floor(time / ms);
 *  the newest version always.
 */
export function policyKeeps(hist: readonly VersionTime[], keep: KeepPolicy | undefined): number[] {
  if (hist.length === 0) return []
  const last = hist[hist.length - 1]!.version
  let out: number[]
  if (keep === undefined || keep === 'latest') out = []
  else if (keep === 'all') out = hist.map((h) => h.version)
  else if ('since' in keep) {
    const s = keep.since
    out = s instanceof Date ? hist.filter((h) => h.time >= s.getTime()).map((h) => h.version) : hist.filter((h) => h.version >= s).map((h) => h.version)
  } else {
    const lastOfWindow = new Map<number, number>()
    for (const h of hist) lastOfWindow.set(Math.floor(h.time / keep.every), h.version)
    out = [...lastOfWindow.values()]
  }
  const set = new Set(out)
  set.add(last)
  return [...set].sort((a, b) => a - b)
}

export function describeKeep(k: KeepPolicy | undefined): string {
  if (k === undefined || typeof k === 'string') return String(k)
  if ('since' in k) return k.since instanceof Date ? `{since: Date(${k.since.getTime()})}` : `{since: ${k.since}}`
  return `{every: ${k.every}}`
}

export function historyOf(db: Db): VersionTime[] {
  return [...db.history()].map((h) => ({ version: h.version, time: h.time.getTime() }))
}

function describeVal(b: Buffer | undefined): string {
  if (b === undefined) return 'undefined'
  return `<${b.length} bytes ${b.subarray(0, 8).toString('hex')}${b.length > 8 ? '…' : ''}>`
}

interface Readable {
  range(): IterableIterator<[string, Buffer]>
  get(k: string): Buffer | undefined
  count(): number
}

function sortedEntries(c: Contents): Array<[string, Buffer]> {
  // Not cached: callers mutate their model maps.
  return [...c].sort((a, b) => cmpKey(a[0], b[0]))
}

/** Full scan and count equal `want`; gets of `probe` keys (all of want's keys when 'all'). */
export function checkContents(r: Readable, want: Contents, what: string, probe: readonly string[] | 'all' = []): void {
  const exp = sortedEntries(want)
  let i = 0
  for (const [k, v] of r.range()) {
    const e = exp[i]
    if (e === undefined) fail(`${what}: scan yields extra key ${JSON.stringify(k)} after ${exp.length} entries`)
    if (e[0] !== k) fail(`${what}: scan entry ${i} is key ${JSON.stringify(k)}, expected ${JSON.stringify(e[0])}`)
    if (!e[1].equals(v)) fail(`${what}: value of ${JSON.stringify(k)} is ${describeVal(v)}, expected ${describeVal(e[1])}`)
    i++
  }
  if (i !== exp.length) fail(`${what}: scan yields ${i} entries, expected ${exp.length}`)
  const n = r.count()
  if (n !== exp.length) fail(`${what}: count() is ${n}, expected ${exp.length}`)
  for (const k of probe === 'all' ? want.keys() : probe) {
    const got = r.get(k)
    const e = want.get(k)
    if (e === undefined ? got !== undefined : got === undefined || !e.equals(got)) {
      fail(`${what}: get(${JSON.stringify(k)}) is ${describeVal(got)}, expected ${describeVal(e)}`)
    }
  }
}

export function isCambium(e: unknown, ...codes: string[]): e is CambiumError {
  return e instanceof CambiumError && (codes.length === 0 || codes.includes(e.code))
}

export function describeError(e: unknown): string {
  if (e instanceof CambiumError) return `CambiumError ${e.code}: ${e.message}`
  if (e instanceof Error) return `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}`
  return String(e)
}

/** fn must throw a CambiumError with `code`. */
export function expectCode(fn: () => unknown, code: string, what: string): void {
  try {
    fn()
  } catch (e) {
    if (isCambium(e, code)) return
    fail(`${what}: expected ${code}, got ${describeError(e)}`)
  }
  fail(`${what}: expected ${code}, but it returned`)
}

export const sameList = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i])

export const fmtList = (a: readonly number[]): string => (a.length > 30 ? `[${a.slice(0, 12).join(',')} … ${a.slice(-12).join(',')}] (${a.length})` : `[${a.join(',')}]`)

let gcCache: { fn: (() => void) | undefined } | undefined
/** A GC function, if one can be had: global.gc, or --expose_gc set at run time (tried once, on first use). */
export function getGc(): (() => void) | undefined {
  gcCache ??= { fn: findGc() }
  return gcCache.fn
}

function findGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc
  if (typeof g === 'function') return g
  try {
    v8.setFlagsFromString('--expose_gc')
    const f = vm.runInNewContext('gc') as unknown
    return typeof f === 'function' ? (f as () => void) : undefined
  } catch {
    return undefined
  }
}

/** Collects garbage: WeakRefs keep their targets until the current job ends, so let it end
 *  first; FinalizationRegistry callbacks run in a later task, so give them time after. */
export async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r))
    getGc()!()
  }
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 5))
}
