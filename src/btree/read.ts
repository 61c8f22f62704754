/**
 * Read paths over a tree given its root Ref: point lookups, ranks (for O(log n) counts)
 * and ordered iteration. Works on committed trees and on a writer's in-memory nodes alike.
 */
import { corrupt } from '../errors.js'
import { compareBytes, putBytes } from '../format/bytes.js'
import { MAX_TREE_HEIGHT } from '../format/constants.js'
import { isPointer, isValueRef, type BranchNode, type LeafNode, type Ref, type StoredValue, type TreeNode } from '../format/node-codec.js'
import {
  Arena,
  packedBound,
  packedChild,
  packedChildCount,
  packedChildOffset,
  packedCompare,
  packedInlineValue,
  PackedNode,
  packedKey,
  packedKeyEquals,
  packedValue,
} from '../format/packed-node.js'
import { packedChildBytes } from '../format/packed-spans.js'
import { NODE_READ_GUESS, type Store } from '../store/store.js'
import { lowerBound, upperBound } from './search.js'

/** A node as readers see it: packed (from the cache) or a writer's in-memory node. */
export type AnyNode = TreeNode | PackedNode

/** The node behind a Ref, checking it sits at the height its parent expects. */
export function resolve(store: Store, r: Ref, height: number): AnyNode {
  return atHeight(store, isPointer(r) ? store.node(r) : r, height, isPointer(r) ? r.offset : -1)
}

export function atHeight<N extends AnyNode>(store: Store, n: N, height: number, offset: number): N {
  if (n.height !== height) throw corrupt(`node at height ${n.height} where ${height} was expected`, offset, store.path)
  return n
}

export function rootNode(store: Store, root: Ref, height: number): AnyNode {
  if (height < 1 || height > MAX_TREE_HEIGHT) throw corrupt(`tree height ${height}`, isPointer(root) ? root.offset : -1, store.path)
  return resolve(store, root, height)
}

/** First key index >= key (or > key with `upper`; for a branch, the child to descend into). */
function bound(n: AnyNode, key: Uint8Array, upper: boolean): number {
  if (n instanceof PackedNode) return packedBound(n, key, upper)
  return upper ? upperBound(n.keys, key) : lowerBound(n.keys, key)
}

function keyCount(n: AnyNode): number {
  return n instanceof PackedNode ? n.size : n.keys.length
}

function childCount(n: AnyNode): number {
  return n instanceof PackedNode ? n.size + 1 : (n as BranchNode).children.length
}

/** Child i of a branch, resolved; a packed branch's child found in the cache costs no
 *  pointer object. */
function descend(store: Store, n: AnyNode, i: number): AnyNode {
  if (!(n instanceof PackedNode)) return resolve(store, (n as BranchNode).children[i]!, n.height - 1)
  const child = store.cache.child(n, i)
  return child !== undefined ? childAt(store, n, i, child) : loadChild(store, n, i)
}

/** Child i of the packed branch n, which the cache lacks: read, cached and linked to n. */
function loadChild(store: Store, n: PackedNode, i: number): PackedNode {
  const loaded = store.load(packedChild(n, i))
  store.cache.link(n, i, loaded)
  return childAt(store, n, i, loaded)
}

/** `child`, the node child pointer i of `n` names, checked to sit one level below `n`. */
function childAt(store: Store, n: PackedNode, i: number, child: PackedNode): PackedNode {
  if (child.height !== n.height - 1) throw corrupt(`node at height ${child.height} where ${n.height - 1} was expected`, packedChildOffset(n, i), store.path)
  return child
}

/** Leaf child i of a packed branch of height 2, from the cache or read and cached if the
 *  cache admits it (NodeCache.admit); undefined if the caller is to read it uncached. */
function admittedLeaf(store: Store, n: PackedNode, i: number): PackedNode | undefined {
  const cached = store.cache.child(n, i)
  if (cached !== undefined) return childAt(store, n, i, cached)
  return store.cache.admit(packedChildOffset(n, i)) ? loadChild(store, n, i) : undefined
}

/** The value stored under `key`, or undefined. An inline value may be a view of a reused
 *  read buffer (Store.lookupUncached): copy it before the store reads again. */
export function lookup(store: Store, root: Ref | null, height: number, key: Uint8Array): StoredValue | undefined {
  if (root === null) return undefined
  let n = rootNode(store, root, height)
  while (n.height > 1) {
    const i = bound(n, key, true)
    if (n.height !== 2 || !(n instanceof PackedNode)) n = descend(store, n, i)
    else {
      const leaf = admittedLeaf(store, n, i)
      if (leaf === undefined) return store.lookupUncached(packedChild(n, i), key)
      n = leaf
    }
  }
  if (n instanceof PackedNode) {
    const i = packedBound(n, key, false)
    return i < n.size && packedKeyEquals(n, i, key) ? packedValue(n, i) : undefined
  }
  const leaf = n as LeafNode
  const i = lowerBound(leaf.keys, key)
  return i < leaf.keys.length && compareBytes(leaf.keys[i]!, key) === 0 ? leaf.values[i] : undefined
}

/** Number of entries < key, or <= key when `inclusive`. */
export function rank(store: Store, root: Ref | null, height: number, key: Uint8Array, inclusive: boolean): number {
  if (root === null) return 0
  let r = 0
  let n = rootNode(store, root, height)
  while (n.height > 1) {
    const idx = bound(n, key, true)
    for (let i = 0; i < idx; i++) r += n instanceof PackedNode ? packedChildCount(n, i) : (n as BranchNode).children[i]!.count
    n = descend(store, n, idx)
  }
  return r + bound(n, key, inclusive)
}

export interface Bound {
  key: Uint8Array
  inclusive: boolean
}

export interface Bounds {
  lower: Bound | undefined
  upper: Bound | undefined
}

/** Order of leaf entry i's key against `key`. */
function compareEntry(leaf: AnyNode, i: number, key: Uint8Array): number {
  return leaf instanceof PackedNode ? packedCompare(leaf, i, key) : compareBytes((leaf as LeafNode).keys[i]!, key)
}

const allocBuffer = (n: number): Buffer => Buffer.allocUnsafe(n)

/**
 * Has the store read ahead the leaves a walk will want after child `from` of the level-2
 * branch n (the later children, or the earlier ones in reverse), leaving out those cached.
 */
function readAhead(store: Store, n: PackedNode, from: number, reverse: boolean, most: number): void {
  const offsets: number[] = []
  const lengths: number[] = []
  const step = reverse ? -1 : 1
  for (let i = from + step; i >= 0 && i <= n.size && offsets.length < most; i += step) {
    const offset = packedChildOffset(n, i)
    if (store.cache.has(offset)) continue
    offsets.push(offset)
    lengths.push(Math.min(NODE_READ_GUESS, packedChildBytes(n, i)))
  }
  if (offsets.length > 0) store.readAhead(offsets, lengths)
}

/** A cursor's scratch slab: a default 1 KiB leaf and its index fit several times over
 *  (a bigger one gets a slab of its own size). */
const CURSOR_SLAB = 8 << 10

/**
 * An ordered walk over the entries within bounds (or in reverse), reading nodes as it goes:
 * next() moves to the next entry and says whether there is one; key() and value() read it.
 * The tree it walks never changes under it (nodes are immutable or, for a writer's tree,
 * copied before any later change).
 */
export class Cursor {
  /** the branches from the root to the current leaf, and the child index taken in each */
  private readonly path: AnyNode[] = []
  private readonly idx: number[] = []
  private leaf: AnyNode | undefined
  /** where a leaf the cache does not take (NodeCache.admit) is packed, over the last one */
  private scratch: Arena | undefined
  private i = 0
  private started = false
  /** whether this walk has begun to read leaves ahead (readAhead) */
  private readingAhead = false
  /** Leaves the next read-ahead asks for: few at first (a short scan needs a few more
   *  leaves, and asking costs ~0.3 us a leaf), doubling up to whole branches. */
  private aheadItems = 8

  constructor(
    private readonly store: Store,
    private readonly root: Ref | null,
    private readonly height: number,
    private readonly bounds: Bounds,
    private readonly reverse: boolean,
  ) {}

  private seek(): void {
    if (this.root === null) return
    const { lower, upper } = this.bounds
    const reverse = this.reverse
    const seek = reverse ? upper : lower
    let n = rootNode(this.store, this.root, this.height)
    while (n.height > 1) {
      const idx = seek === undefined ? (reverse ? childCount(n) - 1 : 0) : bound(n, seek.key, true)
      this.path.push(n)
      this.idx.push(idx)
      n = this.child(n, idx)
    }
    this.leaf = n
    if (reverse) this.i = (upper === undefined ? keyCount(n) : bound(n, upper.key, upper.inclusive)) - 1
    else this.i = lower === undefined ? 0 : bound(n, lower.key, !lower.inclusive)
  }

  /** Child i of branch n. A leaf the cache neither holds nor admits is packed into this
   *  cursor's scratch arena, over the one before: a scan reads each leaf once, and caching
   *  them would only push out the nodes that are read again. */
  private child(n: AnyNode, i: number): AnyNode {
    if (n.height !== 2 || !(n instanceof PackedNode)) return descend(this.store, n, i)
    const leaf = admittedLeaf(this.store, n, i)
    if (leaf !== undefined) return leaf
    this.scratch ??= new Arena(CURSOR_SLAB)
    this.scratch.reset()
    const p = packedChild(n, i)
    return atHeight(this.store, this.store.pack(p, this.scratch), 1, p.offset)
  }

  private readAhead(n: PackedNode, from: number): void {
    this.readingAhead = true
    readAhead(this.store, n, from, this.reverse, this.aheadItems)
    if (this.aheadItems < 64) this.aheadItems *= 2
  }

  /** Moves to the next leaf (or the previous one, in reverse); false at the end of the tree. */
  private nextLeaf(): boolean {
    const { path, idx, reverse } = this
    let top = path.length - 1
    while (top >= 0 && (reverse ? idx[top] === 0 : idx[top] === childCount(path[top]!) - 1)) top--
    if (top < 0) return false
    path.length = top + 1
    idx.length = top + 1
    idx[top]! += reverse ? -1 : 1
    // Past its first leaf a walk is a scan: from here on, the leaves of each level-2 branch
    // after the one it goes to are read ahead (the one it goes to is read now, here).
    const t = path[top]!
    if (!this.readingAhead && t.height === 2 && t instanceof PackedNode) this.readAhead(t, idx[top]!)
    let m = this.child(t, idx[top]!)
    while (m.height > 1) {
      const j = reverse ? childCount(m) - 1 : 0
      path.push(m)
      idx.push(j)
      if (m.height === 2 && m instanceof PackedNode) this.readAhead(m, j)
      m = this.child(m, j)
    }
    this.leaf = m
    this.i = reverse ? keyCount(m) - 1 : 0
    return true
  }

  next(): boolean {
    if (!this.started) {
      this.started = true
      this.seek()
      if (this.leaf === undefined) return false
    } else {
      if (this.leaf === undefined) return false
      this.i += this.reverse ? -1 : 1
    }
    for (;;) {
      const leaf = this.leaf!
      if (this.reverse ? this.i >= 0 : this.i < keyCount(leaf)) break
      if (!this.nextLeaf()) {
        this.leaf = undefined
        return false
      }
    }
    const { lower, upper } = this.bounds
    const limit = this.reverse ? lower : upper
    if (limit !== undefined) {
      const c = compareEntry(this.leaf!, this.i, limit.key)
      const inside = this.reverse ? c > 0 || (c === 0 && limit.inclusive) : c < 0 || (c === 0 && limit.inclusive)
      if (!inside) {
        this.leaf = undefined
        return false
      }
    }
    return true
  }

  /** A copy of the current key. */
  key(): Buffer {
    const leaf = this.leaf!
    if (leaf instanceof PackedNode) return packedKey(leaf, this.i, allocBuffer)
    return copyBytes((leaf as LeafNode).keys[this.i]!)
  }

  /** A copy of the current value, read from its record if it is out of line. */
  valueCopy(): Buffer {
    const leaf = this.leaf!
    if (leaf instanceof PackedNode) {
      const inline = packedInlineValue(leaf, this.i, allocBuffer)
      if (inline !== undefined) return inline
    }
    const v = leaf instanceof PackedNode ? packedValue(leaf, this.i) : (leaf as LeafNode).values[this.i]!
    return copyBytes(isValueRef(v) ? this.store.value(v) : v)
  }
}

/** A Buffer copy made with one memcpy (Buffer.from(Uint8Array) copies element by element). */
export function copyBytes(b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(b.length)
  putBytes(out, 0, b, 0)
  return out
}
