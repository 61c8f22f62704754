/**
 * Spans inside a packed node's body (packed-node.ts), for writers that copy the unchanged
 * parts of a node instead of encoding it again (btree/patch.ts). Packing checked every field
 * they read is there.
 */
import { varintSize } from './bytes.js'
import { OFFSET_SIZE } from './constants.js'
import { OUT_OF_LINE, varintAt, type PackedNode } from './packed-node.js'

/** The end of the varint at b[at] (whatever its length: packing accepted it). */
function varintEnd(b: Uint8Array, at: number): number {
  while (b[at++]! >= 0x80);
  return at
}

/** Where leaf entry i ends in the body (entry 0 starts at entriesAt). */
export function leafEntryEnd(nd: PackedNode, i: number): number {
  const s = nd.ix[nd.auxAt + 2 * i]!
  const e = nd.ix[nd.auxAt + 2 * i + 1]!
  return e === OUT_OF_LINE ? varintEnd(nd.bytes, s + OFFSET_SIZE + 4) : e
}

/** Where a leaf's first entry (or a branch's first child pointer) starts: after the prefix.
 *  Like every position here, an index into nd.bytes. */
export function entriesAt(nd: PackedNode): number {
  return nd.prefixAt + nd.prefixLen
}

/** The length of leaf entry i's out-of-line value, or -1 if it is inline. */
export function leafOutOfLineLength(nd: PackedNode, i: number): number {
  const s = nd.ix[nd.auxAt + 2 * i]!
  return nd.ix[nd.auxAt + 2 * i + 1] === OUT_OF_LINE ? varintAt(nd.bytes, s + OFFSET_SIZE + 4) : -1
}

/** Entry i's size as the writer's split rule counts it: flags, key length, the whole key
 *  (no prefix taken off) and the value as stored. */
export function leafEntryRuleSize(nd: PackedNode, i: number): number {
  const k = nd.prefixLen + nd.ix[nd.ixAt + 2 * i + 1]! - nd.ix[nd.ixAt + 2 * i]!
  const ool = leafOutOfLineLength(nd, i)
  const vs = nd.ix[nd.auxAt + 2 * i]!
  const v = ool >= 0 ? OFFSET_SIZE + 4 + varintSize(ool) : varintSize(nd.ix[nd.auxAt + 2 * i + 1]! - vs) + nd.ix[nd.auxAt + 2 * i + 1]! - vs
  return 1 + varintSize(k) + k + v
}

/** Where a branch's child pointer i starts. */
export function childPointerAt(nd: PackedNode, i: number): number {
  return nd.ix[nd.auxAt + i]!
}

/** Where a branch's child pointer i ends (the last one's end is where the separators start). */
export function childPointerEnd(nd: PackedNode, i: number): number {
  return varintEnd(nd.bytes, varintEnd(nd.bytes, nd.ix[nd.auxAt + i]! + OFFSET_SIZE + 4))
}

/** Separator i's length, whole (prefix included). */
export function packedKeyLength(nd: PackedNode, i: number): number {
  return nd.prefixLen + nd.ix[nd.ixAt + 2 * i + 1]! - nd.ix[nd.ixAt + 2 * i]!
}

/** Where a branch's separator i is encoded (its suffix's length varint, then the suffix). */
export function separatorAt(nd: PackedNode, i: number): number {
  const s = nd.ix[nd.ixAt + 2 * i]!
  return s - varintSize(nd.ix[nd.ixAt + 2 * i + 1]! - s)
}

/** The length of the common prefix of key i and `key`. */
export function packedCommonPrefix(nd: PackedNode, i: number, key: Uint8Array): number {
  const p = nd.prefixLen
  const b = nd.bytes
  let j = 0
  for (; j < p; j++) if (j >= key.length || b[nd.prefixAt + j] !== key[j]) return j
  const s = nd.ix[nd.ixAt + 2 * i]!
  const n = Math.min(nd.ix[nd.ixAt + 2 * i + 1]! - s, key.length - p)
  for (let t = 0; t < n; t++) if (b[s + t] !== key[p + t]) return p + t
  return p + n
}

/** Bytes on disk of the subtree under child i of a branch. */
export function packedChildBytes(nd: PackedNode, i: number): number {
  const at = nd.ix[nd.auxAt + i]! + OFFSET_SIZE + 4
  return varintAt(nd.bytes, varintEnd(nd.bytes, at))
}
