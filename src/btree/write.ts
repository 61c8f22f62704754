/**
 * Copy-on-write mutation of a tree in memory. A node is mutated in place only if its
 * `edit` equals the current one (it was created by this writer since the last point an
 * iterator pinned the tree); any other node, including every node read from the file,
 * is copied first. So committed versions and live iterators never see a change.
 */
import { branchRecordSize, isLeaf, isPointer, leafRecordSize, type BranchNode, type LeafNode, type Ref, type StoredValue, type TreeNode } from '../format/node-codec.js'
import { PackedNode, unpack } from '../format/packed-node.js'
import type { Store } from '../store/store.js'
import { resolve } from './read.js'
import { lowerBound, shortestSeparator, upperBound } from './search.js'
import { compareBytes } from '../format/bytes.js'

export interface WriteContext {
  store: Store
  edit: number
  /** split a node whose record would exceed this many bytes */
  nodeSize: number
  /** values longer than this go out of line */
  inlineMax: number
}

let lastEdit = 0
/** A fresh edit number; 0 is reserved for nodes read from the file. */
export function newEdit(): number {
  return ++lastEdit
}

function mutable(ctx: WriteContext, r: Ref, height: number): TreeNode {
  if (!isPointer(r) && r.edit === ctx.edit) return r
  // A node the last small commit wrote is still at hand in array form: copying its arrays
  // is cheaper than unpacking the cached record (single-put commits rewrite the same upper
  // nodes every time).
  const kept = isPointer(r) ? ctx.store.recent.get(r.offset)?.() : undefined
  const n = kept !== undefined && kept.height === height ? kept : resolve(ctx.store, r, height)
  if (n instanceof PackedNode) return unpack(n, ctx.edit)
  if (isLeaf(n)) return { height: 1, keys: n.keys.slice(), values: n.values.slice(), count: n.count, edit: ctx.edit }
  return { height: n.height, keys: n.keys.slice(), children: n.children.slice(), count: n.count, edit: ctx.edit }
}

function leafSize(ctx: WriteContext, n: LeafNode): number {
  return leafRecordSize(n.keys, n.values, ctx.inlineMax)
}

function branchSize(n: BranchNode): number {
  return branchRecordSize(n.keys, n.children)
}

interface Split {
  sep: Uint8Array
  right: TreeNode
}

/** Splits a leaf in two of about equal bytes. */
function splitLeaf(ctx: WriteContext, n: LeafNode): Split {
  const total = leafSize(ctx, n)
  let acc = 0
  let mid = 1
  for (; mid < n.keys.length - 1; mid++) {
    acc += n.keys[mid - 1]!.length + (n.values[mid - 1]!.length > ctx.inlineMax ? 12 : n.values[mid - 1]!.length) + 3
    if (acc * 2 >= total) break
  }
  const right: LeafNode = { height: 1, keys: n.keys.splice(mid), values: n.values.splice(mid), count: 0, edit: ctx.edit }
  right.count = right.keys.length
  n.count = n.keys.length
  return { sep: shortestSeparator(n.keys[mid - 1]!, right.keys[0]!), right }
}

/** Splits a branch at its middle child; the separator there moves up. */
function splitBranch(ctx: WriteContext, n: BranchNode): Split {
  const mid = n.children.length >>> 1
  const children = n.children.splice(mid)
  const keys = n.keys.splice(mid)
  const sep = n.keys.pop()!
  const right: BranchNode = { height: n.height, keys, children, count: sumCounts(children), edit: ctx.edit }
  n.count -= right.count
  return { sep, right }
}

function sumCounts(refs: readonly Ref[]): number {
  let c = 0
  for (const r of refs) c += r.count
  return c
}

/**
 * A branch splits at half the node size. Every commit rewrites the branches on its paths,
 * so smaller branches cut the bytes appended per put (measured at 300k keys, commits of
 * 1,000: 1,070 -> 968 bytes, with loads ~15% and single-put commits ~20% faster) for one
 * more level in big trees; gets measured the same. Leaves keep the full size: each is
 * rewritten whole, and scans read fewer of them.
 */
export function branchLimit(nodeSize: number): number {
  return nodeSize >>> 1
}

function overfull(ctx: WriteContext, n: TreeNode): boolean {
  if (isLeaf(n)) return n.keys.length >= 2 && leafSize(ctx, n) > ctx.nodeSize
  return n.children.length >= 4 && branchSize(n) > branchLimit(ctx.nodeSize)
}

function insert(ctx: WriteContext, n: TreeNode, key: Uint8Array, value: StoredValue): Split | undefined {
  if (isLeaf(n)) {
    const i = lowerBound(n.keys, key)
    if (i < n.keys.length && compareBytes(n.keys[i]!, key) === 0) {
      n.values[i] = value
    } else {
      n.keys.splice(i, 0, key)
      n.values.splice(i, 0, value)
      n.count++
    }
    return overfull(ctx, n) ? splitLeaf(ctx, n) : undefined
  }
  const idx = upperBound(n.keys, key)
  const child = mutable(ctx, n.children[idx]!, n.height - 1)
  const before = child.count
  const split = insert(ctx, child, key, value)
  n.children[idx] = child
  n.count += child.count - before
  if (split === undefined) return undefined
  n.count += split.right.count
  n.keys.splice(idx, 0, split.sep)
  n.children.splice(idx + 1, 0, split.right)
  return overfull(ctx, n) ? splitBranch(ctx, n) : undefined
}

/** Inserts or replaces `key`; returns the new root and height. */
export function put(ctx: WriteContext, root: Ref | null, height: number, key: Uint8Array, value: StoredValue): [Ref, number] {
  if (root === null) return [{ height: 1, keys: [key], values: [value], count: 1, edit: ctx.edit }, 1]
  const n = mutable(ctx, root, height)
  const split = insert(ctx, n, key, value)
  if (split === undefined) return [n, height]
  const top: BranchNode = { height: height + 1, keys: [split.sep], children: [n, split.right], count: n.count + split.right.count, edit: ctx.edit }
  return [top, height + 1]
}

/** Merges the children at idx and idx + 1 of n (both made mutable), or evens them out
 *  if the merged node would be too big. */
function mergeOrShare(ctx: WriteContext, n: BranchNode, idx: number): void {
  const left = mutable(ctx, n.children[idx]!, n.height - 1)
  const right = mutable(ctx, n.children[idx + 1]!, n.height - 1)
  if (isLeaf(left)) {
    const r = right as LeafNode
    left.keys.push(...r.keys)
    left.values.push(...r.values)
  } else {
    const r = right as BranchNode
    left.keys.push(n.keys[idx]!, ...r.keys)
    left.children.push(...r.children)
  }
  left.count += right.count
  if (overfull(ctx, left)) {
    const split = isLeaf(left) ? splitLeaf(ctx, left) : splitBranch(ctx, left)
    n.children[idx] = left
    n.children[idx + 1] = split.right
    n.keys[idx] = split.sep
  } else {
    n.children[idx] = left
    n.children.splice(idx + 1, 1)
    n.keys.splice(idx, 1)
  }
}

/** Below a quarter of the node size a node is merged with a neighbour: low enough that a
 *  merge cannot immediately re-split (two halves of a split are each about half full). */
function underfull(ctx: WriteContext, n: TreeNode): boolean {
  if (isLeaf(n)) return n.keys.length === 0 || leafSize(ctx, n) < ctx.nodeSize / 4
  return n.children.length < 2 || branchSize(n) < branchLimit(ctx.nodeSize) / 4
}

function removeFrom(ctx: WriteContext, n: TreeNode, key: Uint8Array): void {
  if (isLeaf(n)) {
    const i = lowerBound(n.keys, key)
    n.keys.splice(i, 1)
    n.values.splice(i, 1)
    n.count--
    return
  }
  const idx = upperBound(n.keys, key)
  const child = mutable(ctx, n.children[idx]!, n.height - 1)
  removeFrom(ctx, child, key)
  n.children[idx] = child
  n.count--
  if (isLeaf(child) && child.keys.length === 0) {
    n.children.splice(idx, 1)
    n.keys.splice(idx === 0 ? 0 : idx - 1, 1)
    return
  }
  if (underfull(ctx, child) && n.children.length >= 2) mergeOrShare(ctx, n, idx === 0 ? 0 : idx - 1)
}

/** Removes `key`, which the caller has checked is present; returns the new root and height. */
export function remove(ctx: WriteContext, root: Ref, height: number, key: Uint8Array): [Ref | null, number] {
  const n = mutable(ctx, root, height)
  removeFrom(ctx, n, key)
  if (isLeaf(n)) return n.keys.length === 0 ? [null, 0] : [n, 1]
  if (n.children.length === 1) return [n.children[0]!, height - 1]
  return [n, height]
}
