/**
 * The reference model for the model-based tests: EVERY version the database ever had,
 * each a map from hex(key) to value. Lowercase hex strings of byte strings sort exactly
 * like the bytes (bytewise), and hex prefixes at even positions are byte prefixes, so the
 * model can work on plain strings.
 */

export type Contents = Map<string, Buffer>

export interface VersionMeta {
  /** for a rollback commit, the version it restored */
  rollbackOf: number | undefined
}

/** Range options in model terms: bounds and prefix as hex strings. */
export interface HexRange {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  prefix?: string
  reverse?: boolean
  limit?: number
}

export function sortedKeys(c: Contents): string[] {
  return [...c.keys()].sort(compareHex)
}

export function compareHex(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function inRange(k: string, r: HexRange): boolean {
  if (r.gt !== undefined && !(k > r.gt)) return false
  if (r.gte !== undefined && !(k >= r.gte)) return false
  if (r.lt !== undefined && !(k < r.lt)) return false
  if (r.lte !== undefined && !(k <= r.lte)) return false
  if (r.prefix !== undefined && !k.startsWith(r.prefix)) return false
  return true
}

/** The keys a range selects, in order, before the limit. */
export function rangeKeys(keys: readonly string[], r: HexRange): string[] {
  const out = keys.filter((k) => inRange(k, r))
  if (r.reverse === true) out.reverse()
  return out
}

/** What range(r) yields over sorted `keys`: [hexKey, value] pairs. */
export function modelRange(c: Contents, keys: readonly string[], r: HexRange): [string, Buffer][] {
  let ks = rangeKeys(keys, r)
  if (r.limit !== undefined) ks = ks.slice(0, r.limit)
  return ks.map((k) => [k, c.get(k)!])
}

export function modelCount(keys: readonly string[], r: HexRange): number {
  const n = rangeKeys(keys, r).length
  return r.limit === undefined ? n : Math.min(n, r.limit)
}

export class VersionedModel {
  /** versions[v] = contents at version v; never mutated once pushed */
  readonly versions: Contents[] = [new Map()]
  readonly meta: VersionMeta[] = [{ rollbackOf: undefined }]
  /** alive[v]: version v is still in the file (compaction drops versions) */
  readonly alive: boolean[] = [true]
  private readonly sortedCache = new Map<number, string[]>()

  get version(): number {
    return this.versions.length - 1
  }

  get latest(): Contents {
    return this.versions[this.version]!
  }

  contents(v: number): Contents {
    const c = this.versions[v]
    if (c === undefined) throw new Error(`model has no version ${v}`)
    return c
  }

  /** Sorted keys of version v (cached: versions are immutable). */
  keys(v: number = this.version): string[] {
    let k = this.sortedCache.get(v)
    if (k === undefined) {
      k = sortedKeys(this.contents(v))
      if (this.sortedCache.size > 64) this.sortedCache.clear()
      this.sortedCache.set(v, k)
    }
    return k
  }

  /** Appends a version; `next` must be a fresh map the caller no longer changes. */
  commit(next: Contents, rollbackOf?: number): number {
    this.versions.push(next)
    this.meta.push({ rollbackOf })
    this.alive.push(true)
    return this.version
  }

  /** Versions still in the file, ascending. */
  aliveVersions(): number[] {
    const out: number[] = []
    for (let v = 0; v < this.alive.length; v++) if (this.alive[v]) out.push(v)
    return out
  }

  /** After a compaction: exactly `kept` (ascending) remain of the versions up to `upTo`. */
  setAlive(kept: readonly number[], upTo: number): void {
    const k = new Set(kept)
    for (let v = 0; v <= upTo; v++) this.alive[v] = k.has(v)
  }

  /** A mutable copy of the latest contents. */
  draft(): Contents {
    return new Map(this.latest)
  }
}
