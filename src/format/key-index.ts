/**
 * A search index over a node's sorted keys, built once for an immutable node (one read
 * from the file or just written): the keys' common prefix length and, per key, its next
 * four bytes after that prefix as a big-endian u32 ("head"), zero-padded.
 *
 * A binary search then compares u32s held contiguously in one Uint32Array, instead of
 * following a pointer to a separate Uint8Array per probe (at 1M keys, a lookup made ~60
 * such probes, and memory latency dominated). Only probes whose heads tie compare the
 * whole key. Order is kept: if head(a) < head(b) then a < b, because a zero pad stands
 * for "the key ended here", which sorts before any byte, including 0 (a tie resolves it).
 */
import { commonPrefixLength } from './bytes.js'

export interface KeyIndex {
  /** the keys' common prefix is keys[0].subarray(0, prefix) */
  prefix: number
  heads: Uint32Array
}

function headAt(k: Uint8Array, at: number): number {
  const n = k.length - at
  if (n >= 4) return ((k[at]! << 24) | (k[at + 1]! << 16) | (k[at + 2]! << 8) | k[at + 3]!) >>> 0
  let h = 0
  for (let i = 0; i < 4; i++) h = h * 256 + (i < n ? k[at + i]! : 0)
  return h
}

export function buildKeyIndex(keys: readonly Uint8Array[]): KeyIndex {
  const n = keys.length
  const prefix = n < 2 ? 0 : commonPrefixLength(keys[0]!, keys[n - 1]!)
  const heads = new Uint32Array(n)
  for (let i = 0; i < n; i++) heads[i] = headAt(keys[i]!, prefix)
  return { prefix, heads }
}

/**
 * With the index: the first i with keys[i] >= key (upper false) or keys[i] > key (upper
 * true); keys.length if none.
 */
export function indexedBound(keys: readonly Uint8Array[], ix: KeyIndex, key: Uint8Array, upper: boolean): number {
  const n = keys.length
  const p = ix.prefix
  if (p > 0) {
    // Every key starts with keys[0][0, p): a key that differs there sorts before or after all.
    const first = keys[0]!
    for (let j = 0; j < p; j++) {
      if (j >= key.length) return 0
      const a = key[j]!
      const b = first[j]!
      if (a !== b) return a < b ? 0 : n
    }
  }
  const h = headAt(key, p)
  const heads = ix.heads
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const hm = heads[mid]!
    let below: boolean
    if (hm !== h) below = hm < h
    else {
      const c = compareFrom(keys[mid]!, key, p)
      below = c < 0 || (upper && c === 0)
    }
    if (below) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** compareBytes for two keys known to share their first `from` bytes. */
function compareFrom(a: Uint8Array, b: Uint8Array, from: number): number {
  const n = a.length < b.length ? a.length : b.length
  for (let i = from; i < n; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.length - b.length
}
