/** Binary searches over sorted key arrays (bytewise order). */
import { compareBytes, copyOf } from '../format/bytes.js'
import { buildKeyIndex, indexedBound } from '../format/key-index.js'
import type { TreeNode } from '../format/node-codec.js'

/** lowerBound over a node's keys. An immutable node (edit 0) gets a search index on its
 *  first search; a writer's node, which may still change, is searched directly. */
export function nodeLowerBound(n: TreeNode, key: Uint8Array): number {
  if (n.edit !== 0) return lowerBound(n.keys, key)
  return indexedBound(n.keys, (n.index ??= buildKeyIndex(n.keys)), key, false)
}

/** upperBound over a node's keys (for a branch: the child to descend into). */
export function nodeUpperBound(n: TreeNode, key: Uint8Array): number {
  if (n.edit !== 0) return upperBound(n.keys, key)
  return indexedBound(n.keys, (n.index ??= buildKeyIndex(n.keys)), key, true)
}

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
