/** Binary searches over sorted key arrays (bytewise order). */
import { compareBytes, copyOf } from '../format/bytes.js'

/** Index of the first key >= `key` (keys.length if none). */
export function lowerBound(keys: readonly Uint8Array[], key: Uint8Array): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareBytes(keys[mid]!, key) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Index of the first key > `key` (keys.length if none). For a branch, the child to descend into. */
export function upperBound(keys: readonly Uint8Array[], key: Uint8Array): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareBytes(keys[mid]!, key) <= 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * The shortest separator s with left < s <= right (left < right): the shortest prefix
 * of `right` that is greater than `left`. Short separators keep branches small
 * (suffix truncation; random 16-byte keys need ~3 bytes at 1M keys).
 */
export function shortestSeparator(left: Uint8Array, right: Uint8Array): Uint8Array {
  let i = 0
  const n = Math.min(left.length, right.length)
  while (i < n && left[i] === right[i]) i++
  return copyOf(right, 0, i + 1)
}
