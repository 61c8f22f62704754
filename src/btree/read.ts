/**
 * Read paths over a tree given its root Ref: point lookups, ranks (for O(log n) counts)
 * and ordered iteration. Works on committed trees and on a writer's in-memory nodes alike.
 */
import { corrupt } from '../errors.js'
import { compareBytes } from '../format/bytes.js'
import { MAX_TREE_HEIGHT } from '../format/constants.js'
import { isLeaf, isPointer, type BranchNode, type Ref, type StoredValue, type TreeNode } from '../format/node-codec.js'
import type { Store } from '../store/store.js'
import { nodeLowerBound as lowerBound, nodeUpperBound as upperBound } from './search.js'

/** The node behind a Ref, checking it sits at the height its parent expects. */
export function resolve(store: Store, r: Ref, height: number): TreeNode {
  const n = isPointer(r) ? store.node(r) : r
  if (n.height !== height) {
    throw corrupt(`node at height ${n.height} where ${height} was expected`, isPointer(r) ? r.offset : -1, store.path)
  }
  return n
}

export function rootNode(store: Store, root: Ref, height: number): TreeNode {
  if (height < 1 || height > MAX_TREE_HEIGHT) throw corrupt(`tree height ${height}`, isPointer(root) ? root.offset : -1, store.path)
  return resolve(store, root, height)
}

export function lookup(store: Store, root: Ref | null, height: number, key: Uint8Array): StoredValue | undefined {
  if (root === null) return undefined
  let n = rootNode(store, root, height)
  while (!isLeaf(n)) {
    const b: BranchNode = n
    n = resolve(store, b.children[upperBound(b, key)]!, b.height - 1)
  }
  const i = lowerBound(n, key)
  return i < n.keys.length && compareBytes(n.keys[i]!, key) === 0 ? n.values[i] : undefined
}

/** Number of entries < key, or <= key when `inclusive`. */
export function rank(store: Store, root: Ref | null, height: number, key: Uint8Array, inclusive: boolean): number {
  if (root === null) return 0
  let r = 0
  let n = rootNode(store, root, height)
  while (!isLeaf(n)) {
    const b: BranchNode = n
    const idx = upperBound(b, key)
    for (let i = 0; i < idx; i++) r += b.children[i]!.count
    n = resolve(store, b.children[idx]!, b.height - 1)
  }
  return r + (inclusive ? upperBound(n, key) : lowerBound(n, key))
}

export interface Bound {
  key: Uint8Array
  inclusive: boolean
}

export interface Bounds {
  lower: Bound | undefined
  upper: Bound | undefined
}

function aboveLower(key: Uint8Array, lower: Bound | undefined): boolean {
  if (lower === undefined) return true
  const c = compareBytes(key, lower.key)
  return c > 0 || (c === 0 && lower.inclusive)
}

function belowUpper(key: Uint8Array, upper: Bound | undefined): boolean {
  if (upper === undefined) return true
  const c = compareBytes(key, upper.key)
  return c < 0 || (c === 0 && upper.inclusive)
}

/** Entries within bounds, in key order (or reverse). Lazy: reads nodes as it goes. */
export function* entries(
  store: Store,
  root: Ref | null,
  height: number,
  bounds: Bounds,
  reverse: boolean,
): Generator<[Uint8Array, StoredValue]> {
  if (root === null) return
  const { lower, upper } = bounds
  // Path from the root: branch nodes and the child index taken in each.
  const stack: { node: BranchNode; idx: number }[] = []
  let n = rootNode(store, root, height)
  const seek = reverse ? upper : lower
  while (!isLeaf(n)) {
    const b: BranchNode = n
    const idx = seek === undefined ? (reverse ? b.children.length - 1 : 0) : upperBound(b, seek.key)
    stack.push({ node: b, idx })
    n = resolve(store, b.children[idx]!, b.height - 1)
  }
  let leaf = n
  let i: number
  if (reverse) i = upper === undefined ? leaf.keys.length - 1 : (upper.inclusive ? upperBound(leaf, upper.key) : lowerBound(leaf, upper.key)) - 1
  else i = lower === undefined ? 0 : lower.inclusive ? lowerBound(leaf, lower.key) : upperBound(leaf, lower.key)
  for (;;) {
    if (reverse) {
      for (; i >= 0; i--) {
        const k = leaf.keys[i]!
        if (!aboveLower(k, lower)) return
        yield [k, leaf.values[i]!]
      }
    } else {
      for (; i < leaf.keys.length; i++) {
        const k = leaf.keys[i]!
        if (!belowUpper(k, upper)) return
        yield [k, leaf.values[i]!]
      }
    }
    // Climb to the nearest ancestor with a next child, then descend to its edge leaf.
    let top = stack[stack.length - 1]
    while (top !== undefined && (reverse ? top.idx === 0 : top.idx === top.node.children.length - 1)) {
      stack.pop()
      top = stack[stack.length - 1]
    }
    if (top === undefined) return
    top.idx += reverse ? -1 : 1
    let m = resolve(store, top.node.children[top.idx]!, top.node.height - 1)
    while (!isLeaf(m)) {
      const b: BranchNode = m
      const idx = reverse ? b.children.length - 1 : 0
      stack.push({ node: b, idx })
      m = resolve(store, b.children[idx]!, b.height - 1)
    }
    leaf = m
    i = reverse ? leaf.keys.length - 1 : 0
  }
}
