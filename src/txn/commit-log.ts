/**
 * The chain of commit records: each names the previous one and a skip target (the newest
 * commit with version <= version & (version - 1)), so finding any version from the head
 * takes O(log^2 n) record reads instead of a walk over every commit.
 */
import { corrupt } from '../errors.js'
import { decodeCommit, type CommitRecord } from '../format/commit-record.js'
import { COMMIT_RECORD_SIZE, HEADER_SIZE } from '../format/constants.js'
import type { Store } from '../store/store.js'
import type { Head } from './commit.js'

/** v with its lowest set bit cleared (v & (v - 1)), exact above 2^31 too. */
export function skipTarget(v: number): number {
  if (v < 0x80000000) return v & (v - 1)
  let p = 1
  while (Math.floor(v / p) % 2 === 0) p *= 2
  return v - p
}

function trailingZeros(v: number): number {
  let z = 0
  while (v % 2 === 0 && v > 0) {
    v /= 2
    z++
  }
  return z
}

/** Bounded cache of decoded commit records: history walks revisit the same records. */
const CACHE_MAX = 4096

export class CommitLog {
  private readonly cache = new Map<number, CommitRecord>()
  /** byZeros[z]: the newest head passed to skipFor whose version is a multiple of 2^z */
  private readonly byZeros: (Head | undefined)[] = new Array<Head | undefined>(54).fill(undefined)

  constructor(
    private readonly store: Store,
    private readonly seed: number,
  ) {}

  read(offset: number): CommitRecord {
    const hit = this.cache.get(offset)
    if (hit !== undefined) return hit
    if (offset < HEADER_SIZE || offset + COMMIT_RECORD_SIZE > this.store.end) {
      throw corrupt('commit pointer outside the file', offset, this.store.path)
    }
    const c = decodeCommit(this.store.read(offset, COMMIT_RECORD_SIZE), 0, this.seed, offset)
    if (c === undefined) throw corrupt('commit record fails its checks', offset, this.store.path)
    if (this.cache.size >= CACHE_MAX) this.cache.clear()
    this.cache.set(offset, c)
    return c
  }

  prev(h: Head): Head | undefined {
    if (h.commit.prevOffset === 0) return undefined
    const commit = this.read(h.commit.prevOffset)
    if (commit.version >= h.commit.version) throw corrupt('commit versions do not decrease', h.commit.prevOffset, this.store.path)
    return { commit, offset: h.commit.prevOffset }
  }

  /** The newest commit with version <= v, or undefined. */
  atOrBelow(head: Head, v: number): Head | undefined {
    let h: Head | undefined = head
    while (h !== undefined && h.commit.version > v) {
      const c: CommitRecord = h.commit
      if (c.skipOffset !== 0 && skipTarget(c.version) >= v) {
        const commit = this.read(c.skipOffset)
        if (commit.version >= c.version) throw corrupt('skip pointer does not go back', c.skipOffset, this.store.path)
        h = { commit, offset: c.skipOffset }
      } else {
        h = this.prev(h)
      }
    }
    return h
  }

  /** The commit of exactly version v, or undefined. */
  find(head: Head, v: number): Head | undefined {
    const h = this.atOrBelow(head, v)
    return h !== undefined && h.commit.version === v ? h : undefined
  }

  /** The oldest commit in the file (the end of the prev chain). */
  first(head: Head): Head {
    let h = this.atOrBelow(head, 0) ?? head
    for (let p = this.prev(h); p !== undefined; p = this.prev(h)) h = p
    return h
  }

  /**
   * skipOffset for the commit that will follow `head`. Its target t = (v+1) & v is the
   * newest commit whose version is a multiple of 2^(z+1), z = trailing zeros of v+1; so
   * remembering, per z, the newest head seen with at least z trailing zeros answers
   * without reading the log (a single-put commit would otherwise read ~log n records).
   */
  skipFor(head: Head): number {
    const v = head.commit.version
    for (let z = 0; z < this.byZeros.length && v > 0 && v % 2 ** z === 0; z++) this.byZeros[z] = head
    const target = skipTarget(v + 1)
    if (target === v) return head.offset
    const known = this.byZeros[trailingZeros(v + 1) + 1]
    if (known !== undefined && known.commit.version === target) return known.offset
    return this.atOrBelow(head, target)?.offset ?? 0
  }
}
