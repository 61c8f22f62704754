/**
 * Merges a sorted run of puts into a committed tree and writes the result, in one
 * depth-first pass: each touched node is read, merged with the puts that fall in its
 * range, split if too big, and written at once (children before parents, as always).
 *
 * Equivalent to applying the puts one by one with write.ts and serializing, but only one
 * root-to-leaf path is held in memory at a time: a 1,000-put commit no longer keeps ~2,000
 * unpacked nodes (~100k small objects) alive until the end, which the garbage collector
 * had to copy again and again. Sorted input (a bulk load) fills each new leaf to the node
 * size, as a bottom-up build does.
 */
import { compareBytes, varintSize } from '../format/bytes.js'
import { OFFSET_SIZE, RECORD_OVERHEAD } from '../format/constants.js'
import { valueSizeInLeaf, type BranchNode, type ChildPointer, type LeafNode, type StoredValue } from '../format/node-codec.js'
import { newBytes, packedChild, packedCompare, packedKey, unpack, type Arena } from '../format/packed-node.js'
import type { Store } from '../store/store.js'
import { patchBranch, patchLeaf } from './patch.js'
import { atHeight } from './read.js'
import { shortestSeparator } from './search.js'
import { serializeTree, type SerializeContext } from './serialize.js'
import { branchLimit } from './write.js'

/** Bytes a run counts before its items: record framing and the node header (the sizes
 *  writeLeaves/writeBranches total with). */
const RUN_OVERHEAD = RECORD_OVERHEAD + 3

export interface MergeContext extends SerializeContext {
  store: Store
  /** split a node whose record would exceed this many bytes */
  nodeSize: number
  /** where nodes read for this merge and not cached are packed (dies with the commit) */
  scratch: Arena
  /** set by mergePuts: the new tree's height */
  height: number
  /** set by each leaf's merge: whether the leaf it replaces came from the file, not the cache */
  coldLeaf: boolean
  /** set while writeLeaves writes a piece that holds only keys put past the old leaf's last
   *  key and is neither the first nor the last piece of its leaf (see writeCommit) */
  appendedPiece: boolean
}

/** Whether changed nodes are written by copying their unchanged parts (patch.ts); tests turn
 *  it off to hold the result to the re-encoding path's bytes. */
export const mergeSettings = { patch: true }

/** A written node and the separator that goes before it in its parent (undefined for the
 *  first piece of a node, which keeps the separator its node had). */
export interface Piece {
  sep: Uint8Array | undefined
  ptr: ChildPointer
}

/**
 * Sorts puts by key; of equal keys the last one wins. Returns the keys and values in order.
 */
export function sortPuts(keys: Uint8Array[], values: Uint8Array[]): [Uint8Array[], Uint8Array[]] {
  // Already strictly increasing (a sorted load): nothing to sort or merge. Unsorted input
  // stops this check at its first step down.
  let increasing = true
  for (let i = 1; i < keys.length && increasing; i++) increasing = compareBytes(keys[i - 1]!, keys[i]!) < 0
  if (increasing) return [keys, values]
  const order = keys.map((_, i) => i)
  order.sort((a, b) => compareBytes(keys[a]!, keys[b]!) || a - b)
  const k: Uint8Array[] = []
  const v: Uint8Array[] = []
  for (let j = 0; j < order.length; j++) {
    const i = order[j]!
    if (k.length > 0 && compareBytes(k[k.length - 1]!, keys[i]!) === 0) v[v.length - 1] = values[i]!
    else {
      k.push(keys[i]!)
      v.push(values[i]!)
    }
  }
  return [k, v]
}

/**
 * Writes the tree `root` (height `height`) with the puts keys[i] -> values[i] applied (keys
 * strictly increasing, at least one); returns the new root's pointer and sets ctx.height.
 */
export function mergePuts(
  ctx: MergeContext,
  root: ChildPointer | null,
  height: number,
  keys: Uint8Array[],
  values: Uint8Array[],
): ChildPointer {
  let pieces = root === null ? writeLeaves(ctx, [], [], keys, values, 0, keys.length) : mergeNode(ctx, root, height, keys, values, 0, keys.length)
  let h = root === null ? 1 : height
  while (pieces.length > 1) {
    pieces = writeBranches(ctx, h + 1, pieces)
    h++
  }
  ctx.height = h
  return pieces[0]!.ptr
}

function mergeNode(ctx: MergeContext, ptr: ChildPointer, height: number, keys: Uint8Array[], values: Uint8Array[], lo: number, hi: number): Piece[] {
  // Read without caching: this version of the node is about to be replaced.
  const nd = atHeight(ctx.store, ctx.store.peek(ptr, ctx.scratch), height, ptr.offset)
  const patch = mergeSettings.patch
  if (height === 1) {
    ctx.coldLeaf = nd.epoch === -1
    const patched = patch ? patchLeaf(ctx, nd, keys, values, lo, hi) : undefined
    if (patched !== undefined) return patched
    const leaf = unpack(nd, 0) as LeafNode
    return writeLeaves(ctx, leaf.keys, leaf.values, keys, values, lo, hi)
  }
  // Puts for child i are those < separator i (and >= separator i - 1).
  const nc = nd.size + 1
  const subs: (Piece[] | undefined)[] = new Array(nc)
  let at = lo
  for (let i = 0; i < nc && at < hi; i++) {
    let end = at
    if (i === nc - 1) end = hi
    else while (end < hi && packedCompare(nd, i, keys[end]!) > 0) end++
    if (end === at) continue
    const sub = mergeNode(ctx, packedChild(nd, i), height - 1, keys, values, at, end)
    subs[i] = sub
    at = end
  }
  if (patch) {
    const patched = patchBranch(ctx, nd, subs)
    if (patched !== undefined) return patched
  }
  // The first piece of each child keeps the separator before it.
  const out: Piece[] = []
  for (let i = 0; i < nc; i++) {
    const sepBefore = i === 0 ? undefined : packedKey(nd, i - 1, newBytes)
    const sub = subs[i]
    if (sub === undefined) {
      out.push({ sep: sepBefore, ptr: packedChild(nd, i) })
      continue
    }
    sub[0]!.sep = sepBefore
    for (const p of sub) out.push(p)
  }
  return writeBranches(ctx, height, out)
}

/** Merges a leaf's entries with puts [lo, hi) and writes them as one leaf or, if too big,
 *  as several of about equal size. */
function writeLeaves(
  ctx: MergeContext,
  oldKeys: Uint8Array[],
  oldValues: StoredValue[],
  keys: Uint8Array[],
  values: Uint8Array[],
  lo: number,
  hi: number,
): Piece[] {
  const k: Uint8Array[] = []
  const v: StoredValue[] = []
  let i = 0
  let j = lo
  while (i < oldKeys.length || j < hi) {
    const c = i === oldKeys.length ? 1 : j === hi ? -1 : compareBytes(oldKeys[i]!, keys[j]!)
    if (c < 0) {
      k.push(oldKeys[i]!)
      v.push(oldValues[i++]!)
    } else {
      if (c === 0) i++
      k.push(keys[j]!)
      v.push(values[j++]!)
    }
  }
  // Entry sizes without prefix compression: an upper bound, so each chunk fits.
  const sizes: number[] = new Array(k.length)
  let total = RUN_OVERHEAD
  for (let e = 0; e < k.length; e++) {
    sizes[e] = 1 + varintSize(k[e]!.length) + k[e]!.length + valueSizeInLeaf(v[e]!, ctx.inlineMax)
    total += sizes[e]!
  }
  const bounds = chunks(sizes, total, ctx.nodeSize, 1)
  const out: Piece[] = []
  let prevLast: Uint8Array | undefined
  for (let c = 0; c + 1 < bounds.length; c++) {
    const ck = k.slice(bounds[c], bounds[c + 1])
    const cv = v.slice(bounds[c], bounds[c + 1])
    // k is sorted: a piece whose first key is past the old leaf's last holds only new keys.
    ctx.appendedPiece = c > 0 && c + 2 < bounds.length && oldKeys.length > 0 && compareBytes(ck[0]!, oldKeys[oldKeys.length - 1]!) > 0
    const ptr = serializeTree(ctx, { height: 1, keys: ck, values: cv, count: ck.length, edit: 0 })
    ctx.appendedPiece = false
    out.push({ sep: prevLast === undefined ? undefined : shortestSeparator(prevLast, ck[0]!), ptr })
    prevLast = ck[ck.length - 1]
  }
  return out
}

/** Writes the children `pieces` of one branch at `height` as one branch or, if too big,
 *  several; the separator where a branch is cut moves up to the parent. */
function writeBranches(ctx: MergeContext, height: number, pieces: Piece[]): Piece[] {
  const sizes: number[] = new Array(pieces.length)
  let total = RUN_OVERHEAD
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!
    const sep = i === 0 ? 0 : 1 + varintSize(p.sep!.length) + p.sep!.length
    sizes[i] = OFFSET_SIZE + 4 + varintSize(p.ptr.count) + varintSize(p.ptr.bytes) + sep
    total += sizes[i]!
  }
  const bounds = chunks(sizes, total, branchLimit(ctx.nodeSize), 2)
  const out: Piece[] = []
  for (let c = 0; c + 1 < bounds.length; c++) {
    const group = pieces.slice(bounds[c], bounds[c + 1])
    const node: BranchNode = {
      height,
      keys: group.slice(1).map((p) => p.sep!),
      children: group.map((p) => p.ptr),
      count: 0,
      edit: 0,
    }
    out.push({ sep: group[0]!.sep, ptr: serializeTree(ctx, node) })
  }
  return out
}

/**
 * Cuts items of the given sizes into ceil(total / limit) runs of about equal bytes. Each cut
 * goes to the item boundary nearest its ideal place (k * content / runs, counted from the
 * first item, so rounding does not add up); a run that would pass `limit` is cut early (then
 * one more run than planned is possible). Cutting at the last boundary below each run's
 * target instead made every run a little short, so a node one entry too big came out as
 * three nodes, not two, and random inserts left leaves ~44% full. A node is cut only if it
 * exceeds `limit` with at least 2 * minRun items (the rule write.ts splits by), and every
 * run keeps at least `minRun` items. Returns run boundaries: [0, ..., sizes.length].
 */
export function chunks(sizes: readonly number[], total: number, limit: number, minRun: number): number[] {
  const n = sizes.length
  if (total <= limit || n < 2 * minRun) return [0, n]
  const runs = Math.ceil(total / limit)
  const content = total - RUN_OVERHEAD
  const bounds = [0]
  let before = 0
  let acc = RUN_OVERHEAD
  for (let i = 0; i < n; i++) {
    const s = sizes[i]!
    if (i - bounds[bounds.length - 1]! >= minRun && n - i >= minRun) {
      const due = bounds.length < runs && before + s / 2 > (bounds.length * content) / runs
      if (due || acc + s > limit) {
        bounds.push(i)
        acc = RUN_OVERHEAD
      }
    }
    acc += s
    before += s
  }
  bounds.push(n)
  return bounds
}
