/**
 * Writes a tree's in-memory nodes as records, children before parents (so every
 * pointer points backwards), and returns the root's pointer. Nodes already on disk
 * are referenced, not copied: that sharing is what makes every version cheap.
 */
import type { ByteWriter } from '../format/bytes.js'
import { KIND_VALUE, RECORD_OVERHEAD } from '../format/constants.js'
import { beginRecord, endRecord } from '../format/record.js'
import type { Arena, PackedNode } from '../format/packed-node.js'
import {
  encodeBranch,
  encodeLeaf,
  isLeaf,
  isPointer,
  isValueRef,
  type ChildPointer,
  type Ref,
  type TreeNode,
  type ValueRef,
} from '../format/node-codec.js'

export interface SerializeContext {
  w: ByteWriter
  /** file offset of w's byte 0 */
  base: number
  inlineMax: number
  /** called for each node record written, with where it is in w.buf, [start, end), and, if
   *  the writer has it at hand, a function that gives the node in its on-disk (immutable)
   *  array form, and one that packs it into an arena more cheaply than parsing the record */
  written(offset: number, start: number, end: number, node?: () => TreeNode, pack?: (arena: Arena) => PackedNode): void
}

export function serializeTree(ctx: SerializeContext, root: Ref): ChildPointer {
  return isPointer(root) ? root : writeNode(ctx, root)
}

/** Appends a value record holding `v` (a value written out of line); returns its pointer. */
export function writeValueRecord(ctx: SerializeContext, v: Uint8Array): ValueRef {
  const start = beginRecord(ctx.w, KIND_VALUE)
  ctx.w.bytes(v)
  return { offset: ctx.base + start, crc: endRecord(ctx.w, start), length: v.length }
}

function writeNode(ctx: SerializeContext, n: TreeNode): ChildPointer {
  const { w, base } = ctx
  let bytes = 0
  if (isLeaf(n)) {
    // The array is copied only if some values go out of line.
    let values = n.values
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!
      if (isValueRef(v)) {
        bytes += RECORD_OVERHEAD + v.length
      } else if (v.length > ctx.inlineMax) {
        if (values === n.values) values = n.values.slice()
        values[i] = writeValueRecord(ctx, v)
        bytes += RECORD_OVERHEAD + v.length
      }
    }
    const start = w.pos
    const crc = encodeLeaf(w, n.keys, values)
    const len = w.pos - start
    ctx.written(base + start, start, w.pos, () => ({ height: 1, keys: n.keys, values, count: n.keys.length, edit: 0 }))
    return { offset: base + start, crc, count: n.keys.length, bytes: bytes + len }
  }
  const ptrs: ChildPointer[] = new Array(n.children.length)
  let count = 0
  for (let i = 0; i < n.children.length; i++) {
    const c = n.children[i]!
    const p = isPointer(c) ? c : writeNode(ctx, c)
    ptrs[i] = p
    bytes += p.bytes
    count += p.count
  }
  const start = w.pos
  const crc = encodeBranch(w, n.height, n.keys, ptrs)
  const len = w.pos - start
  ctx.written(base + start, start, w.pos, () => ({ height: n.height, keys: n.keys, children: ptrs, count, edit: 0 }))
  return { offset: base + start, crc, count, bytes: bytes + len }
}
