/**
 * Writing a changed node by copying the unchanged parts of its packed record instead of
 * unpacking it into arrays and encoding it again: a leaf with puts merged in, a branch with
 * some children replaced (by one node each, or by several where a child split). Each writes
 * exactly the bytes the general path (merge.ts writeLeaves/writeBranches) would write for the
 * same node, and declines (undefined) where that path would do something else:
 *   - a leaf whose merged entries would be split, or whose key prefix would change (new
 *     first or last key sharing less with the other end);
 *   - a branch that would be split (new children, or pointers whose varints grew, took it
 *     past the limit), or whose prefix would change (a split child's new separator sharing
 *     less with the other end).
 * (test/model/patch.test.ts holds both paths to identical records.)
 */
import { commonPrefixLength, MAX_VARINT_BYTES, putBytes, putVarint, varintSize } from '../format/bytes.js'
import { KIND_BRANCH, KIND_LEAF, OFFSET_SIZE, RECORD_HEADER_SIZE, RECORD_OVERHEAD } from '../format/constants.js'
import { putChildPointer, putLeafEntry, valueSizeInLeaf, type ValueRef } from '../format/node-codec.js'
import { packedChildCount, packedCompare, repackBranch, type PackedNode } from '../format/packed-node.js'
import {
  childPointerAt,
  childPointerEnd,
  entriesAt,
  leafEntryEnd,
  leafEntryRuleSize,
  leafOutOfLineLength,
  packedChildBytes,
  packedCommonPrefix,
  packedKeyLength,
  separatorAt,
} from '../format/packed-spans.js'
import { beginRecord, endRecord } from '../format/record.js'
import type { MergeContext, Piece } from './merge.js'
import { writeValueRecord } from './serialize.js'
import { branchLimit } from './write.js'

/** Frame and body bytes a node record counts under the split rule before its entries. */
const RULE_BASE = RECORD_OVERHEAD + 3

/** The leaf `nd` with puts keys[lo, hi) -> values merged in, written as one leaf; undefined
 *  if the general path would split it or its prefix changes. */
export function patchLeaf(ctx: MergeContext, nd: PackedNode, keys: Uint8Array[], values: Uint8Array[], lo: number, hi: number): Piece[] | undefined {
  const n = nd.size
  // Plan: the merged order, its size under the split rule, its entry count.
  let total = RULE_BASE
  let count = 0
  for (let i = 0, j = lo; i < n || j < hi; count++) {
    const c = i === n ? 1 : j === hi ? -1 : packedCompare(nd, i, keys[j]!)
    if (c < 0) total += leafEntryRuleSize(nd, i++)
    else {
      if (c === 0) i++
      const k = keys[j]!
      total += 1 + varintSize(k.length) + k.length + valueSizeInLeaf(values[j]!, ctx.inlineMax)
      j++
    }
  }
  if (total > ctx.nodeSize && count >= 2) return undefined
  const p = nd.prefixLen
  if (count < 2) {
    if (p !== 0) return undefined
  } else {
    const firstNew = packedCompare(nd, 0, keys[lo]!) > 0
    const lastNew = packedCompare(nd, n - 1, keys[hi - 1]!) < 0
    const q = firstNew && lastNew ? commonPrefixLength(keys[lo]!, keys[hi - 1]!)
      : firstNew ? packedCommonPrefix(nd, n - 1, keys[lo]!)
        : lastNew ? packedCommonPrefix(nd, 0, keys[hi - 1]!)
          : p
    if (q !== p) return undefined
  }

  const { w, base } = ctx
  // Value records first, in entry order, as serialize.ts writes them.
  let bytes = 0
  let refs: (ValueRef | undefined)[] | undefined
  let room = RECORD_OVERHEAD + nd.bodyEnd - nd.bodyAt
  for (let j = lo; j < hi; j++) {
    const v = values[j]!
    const k = keys[j]!
    room += 1 + 2 * MAX_VARINT_BYTES + k.length - p + (v.length > ctx.inlineMax ? OFFSET_SIZE + 4 : v.length)
    if (v.length > ctx.inlineMax) (refs ??= new Array(hi - lo))[j - lo] = writeValueRecord(ctx, v)
  }

  w.ensure(room)
  const start = beginRecord(w, KIND_LEAF)
  const b = w.buf
  const body = nd.bytes
  b[w.pos] = count & 0xff
  b[w.pos + 1] = count >>> 8
  let at = putBytes(b, w.pos + 2, body, nd.bodyAt + 2, entriesAt(nd))
  // Old entries are copied in runs [runFrom, next entry's start).
  let runFrom = entriesAt(nd)
  let cursor = runFrom
  for (let i = 0, j = lo; i < n || j < hi; ) {
    const c = i === n ? 1 : j === hi ? -1 : packedCompare(nd, i, keys[j]!)
    if (c < 0) {
      const ool = leafOutOfLineLength(nd, i)
      if (ool >= 0) bytes += RECORD_OVERHEAD + ool
      cursor = leafEntryEnd(nd, i++)
      continue
    }
    at = putBytes(b, at, body, runFrom, cursor)
    if (c === 0) cursor = leafEntryEnd(nd, i++)
    runFrom = cursor
    const ref = refs?.[j - lo]
    if (ref !== undefined) bytes += RECORD_OVERHEAD + ref.length
    at = putLeafEntry(b, at, keys[j]!, p, ref ?? values[j]!)
    j++
  }
  at = putBytes(b, at, body, runFrom, cursor)
  w.pos = at
  const crc = endRecord(w, start)
  ctx.written(base + start, start, w.pos)
  return [{ sep: undefined, ptr: { offset: base + start, crc, count, bytes: bytes + w.pos - start } }]
}

/** The split rule's total of branch `nd` as it is (see patchBranch), kept on it with its
 *  children's bytes: made once per node, or handed on by patchBranch to the node it writes. */
function branchRuleTotal(nd: PackedNode): number {
  if (nd.ruleTotal < 0) {
    const nc = nd.size + 1
    let total = RULE_BASE
    let bytes = 0
    for (let i = 0; i < nc; i++) {
      total += childPointerEnd(nd, i) - childPointerAt(nd, i)
      bytes += packedChildBytes(nd, i)
      if (i > 0) {
        const s = packedKeyLength(nd, i - 1)
        total += 1 + varintSize(s) + s
      }
    }
    nd.ruleTotal = total
    nd.childBytes = bytes
  }
  return nd.ruleTotal
}

/**
 * The branch `nd` with child i replaced by the pieces pieces[i] wherever that is set (a child
 * that split gives several: their pointers follow each other, and the separators of all but
 * the first go in before separator i), written as one branch; undefined if the general path
 * would split it or give it another prefix (a new first or last separator sharing less).
 */
export function patchBranch(ctx: MergeContext, nd: PackedNode, pieces: (Piece[] | undefined)[]): Piece[] | undefined {
  const nc = nd.size + 1
  const body = nd.bytes
  const bodyEnd = nd.bodyEnd
  const p = nd.prefixLen
  // The split rule's total: pointers as they will be, separators whole; and the subtree's
  // count and bytes, as serialize.ts sums them. The old node's are kept on it (branchRuleTotal),
  // so only the changed children are looked at.
  let total = branchRuleTotal(nd)
  let count = nd.count
  let bytes = nd.childBytes
  let children = nc
  let room = 0
  for (let i = 0; i < nc; i++) {
    const sub = pieces[i]
    if (sub === undefined) continue
    total -= childPointerEnd(nd, i) - childPointerAt(nd, i)
    count -= packedChildCount(nd, i)
    bytes -= packedChildBytes(nd, i)
    children += sub.length - 1
    for (let q = 0; q < sub.length; q++) {
      const c = sub[q]!.ptr
      count += c.count
      bytes += c.bytes
      total += OFFSET_SIZE + 4 + varintSize(c.count) + varintSize(c.bytes)
      room += OFFSET_SIZE + 4 + 2 * MAX_VARINT_BYTES
      if (q > 0) {
        const sep = sub[q]!.sep!
        total += 1 + varintSize(sep.length) + sep.length
        room += MAX_VARINT_BYTES + sep.length
      }
    }
  }
  if (total > branchLimit(ctx.nodeSize) && children >= 4) return undefined
  if (children !== nc) {
    // The prefix is the common prefix of the first and last separators (node-codec.ts).
    const head = pieces[0]
    const tail = pieces[nc - 1]
    const firstSep = head !== undefined && head.length > 1 ? head[1]!.sep! : undefined
    const lastSep = tail !== undefined && tail.length > 1 ? tail[tail.length - 1]!.sep! : undefined
    const q = firstSep !== undefined && lastSep !== undefined ? commonPrefixLength(firstSep, lastSep)
      : firstSep !== undefined ? packedCommonPrefix(nd, nc - 2, firstSep)
        : lastSep !== undefined ? packedCommonPrefix(nd, 0, lastSep)
          : p
    if (q !== p) return undefined
  }

  const { w, base } = ctx
  w.ensure(RECORD_OVERHEAD + bodyEnd - nd.bodyAt + room)
  const start = beginRecord(w, KIND_BRANCH)
  const b = w.buf
  b[w.pos] = children & 0xff
  b[w.pos + 1] = children >>> 8
  const first = entriesAt(nd)
  let at = putBytes(b, w.pos + 2, body, nd.bodyAt + 2, first)
  // Pointers: old ones copied in runs [runFrom, pointer i), new ones written in place of pointer i.
  let runFrom = first
  for (let i = 0; i < nc; i++) {
    const sub = pieces[i]
    if (sub === undefined) continue
    at = putBytes(b, at, body, runFrom, childPointerAt(nd, i))
    for (const piece of sub) at = putChildPointer(b, at, piece.ptr)
    runFrom = childPointerEnd(nd, i)
  }
  const cursor = childPointerEnd(nd, nc - 1)
  at = putBytes(b, at, body, runFrom, cursor)
  // Separators: copied, with those of split children's later pieces put in before separator i.
  runFrom = cursor
  for (let i = 0; i < nc && children !== nc; i++) {
    const sub = pieces[i]
    if (sub === undefined || sub.length === 1) continue
    const before = i === nc - 1 ? bodyEnd : separatorAt(nd, i)
    at = putBytes(b, at, body, runFrom, before)
    runFrom = before
    for (let q = 1; q < sub.length; q++) {
      const sep = sub[q]!.sep!
      at = putVarint(b, at, sep.length - p)
      at = putBytes(b, at, sep, p)
    }
  }
  at = putBytes(b, at, body, runFrom, bodyEnd)
  w.pos = at
  const crc = endRecord(w, start)
  if (children === nc) {
    ctx.written(base + start, start, w.pos, undefined, (arena) => {
      const packed = repackBranch(nd, w.buf.subarray(start + RECORD_HEADER_SIZE, w.pos - 4), arena, pieces)
      // Its sums are the ones just made (the same separators, these pointers).
      packed.ruleTotal = total
      packed.childBytes = bytes
      return packed
    })
  } else ctx.written(base + start, start, w.pos)
  return [{ sep: undefined, ptr: { offset: base + start, crc, count, bytes: bytes + w.pos - start } }]
}
