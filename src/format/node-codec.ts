/**
 * Leaf and branch node records (FORMAT.md §5). Pure encode/decode; no I/O.
 *
 * Leaf body:   u16 count | varint prefixLen | prefix | count x entry
 *   entry:     u8 flags | varint suffixLen | suffix |
 *              inline:      varint valueLen | value
 *              out of line: u48 valueOffset | u32 valueCrc | varint valueLen
 * Branch body: u16 childCount | u8 height | varint prefixLen | prefix |
 *              childCount x (u48 offset | u32 crc | varint count | varint bytes) |
 *              (childCount - 1) x (varint suffixLen | suffix)      -- separators
 * Keys and separators are stored as suffixes after the node's common prefix.
 */
import { ByteReader, ByteWriter, commonPrefixLength, copyOf, MAX_VARINT_BYTES, putBytes, putU48, putVarint, varintSize, writeU32 } from './bytes.js'
import {
  ENTRY_FLAG_OUT_OF_LINE,
  ENTRY_FLAGS_KNOWN_V1,
  KIND_BRANCH,
  KIND_LEAF,
  MAX_TREE_HEIGHT,
  OFFSET_SIZE,
  RECORD_OVERHEAD,
} from './constants.js'
import { beginRecord, endRecord } from './record.js'

/** Where an out-of-line value lives: its value record's offset, CRC and body length. */
export interface ValueRef {
  offset: number
  crc: number
  length: number
}

export type StoredValue = Uint8Array | ValueRef

export function isValueRef(v: StoredValue): v is ValueRef {
  return !(v instanceof Uint8Array)
}

/** A branch's pointer to a child: the child's record offset and CRC (so corruption
 *  below a valid root is caught), the subtree's entry count and its bytes on disk. */
export interface ChildPointer {
  offset: number
  crc: number
  count: number
  bytes: number
}

/**
 * Nodes in array form: the writer's (which carry the edit number of the transaction step
 * that may still mutate them in place), and nodes decoded whole for checks and copies or
 * just written (edit 0: never mutated). The cache holds nodes packed instead
 * (packed-node.ts).
 */
export interface LeafNode {
  height: 1
  keys: Uint8Array[]
  values: StoredValue[]
  count: number
  edit: number
}

export interface BranchNode {
  height: number
  /** separators: keys[i] <= every key below children[i + 1], > every key below children[i] */
  keys: Uint8Array[]
  children: Ref[]
  /** entries in the subtree */
  count: number
  edit: number
}

export type TreeNode = LeafNode | BranchNode

/** A child: on disk (a pointer) or in memory (a node not yet written). */
export type Ref = ChildPointer | TreeNode

export function isPointer(r: Ref): r is ChildPointer {
  return (r as ChildPointer).offset !== undefined
}

export function isLeaf(n: TreeNode): n is LeafNode {
  return n.height === 1
}

function prefixOf(keys: Uint8Array[]): number {
  if (keys.length < 2) return 0
  return commonPrefixLength(keys[0]!, keys[keys.length - 1]!)
}

/** Bytes an entry's value takes in the leaf; a Uint8Array longer than inlineMax will be
 *  written out of line, as a ValueRef. */
export function valueSizeInLeaf(v: StoredValue, inlineMax: number): number {
  return isValueRef(v) || v.length > inlineMax ? OFFSET_SIZE + 4 + varintSize(v.length) : varintSize(v.length) + v.length
}

/** Size of the leaf record once encoded (framing included). */
export function leafRecordSize(keys: Uint8Array[], values: StoredValue[], inlineMax = Infinity): number {
  const p = prefixOf(keys)
  let size = RECORD_OVERHEAD + 2 + varintSize(p) + p
  for (let i = 0; i < keys.length; i++) {
    const s = keys[i]!.length - p
    size += 1 + varintSize(s) + s + valueSizeInLeaf(values[i]!, inlineMax)
  }
  return size
}

/** Exact size of the encoded branch record (framing included). A child not yet written
 *  (a node, no `bytes` figure) counts 4 bytes for it: a varint's size up to 256 MiB. */
export function branchRecordSize(keys: Uint8Array[], children: readonly Ref[]): number {
  const p = prefixOf(keys)
  let size = RECORD_OVERHEAD + 3 + varintSize(p) + p
  for (const c of children) size += OFFSET_SIZE + 4 + varintSize(c.count) + (isPointer(c) ? varintSize(c.bytes) : 4)
  for (const k of keys) size += varintSize(k.length - p) + k.length - p
  return size
}

/** Room for one key or separator suffix (length varint and bytes) past prefix p. */
function keysRoom(keys: readonly Uint8Array[], p: number): number {
  let n = 0
  for (const k of keys) n += MAX_VARINT_BYTES + k.length - p
  return n
}

/** Appends a leaf record to w; returns its CRC. Writes straight into w's buffer after
 *  one ensure() (this runs for every leaf of every commit). */
export function encodeLeaf(w: ByteWriter, keys: Uint8Array[], values: StoredValue[]): number {
  const p = prefixOf(keys)
  let room = RECORD_OVERHEAD + 2 + MAX_VARINT_BYTES + p + keysRoom(keys, p)
  for (const v of values) room += 1 + (isValueRef(v) ? OFFSET_SIZE + 4 + MAX_VARINT_BYTES : MAX_VARINT_BYTES + v.length)
  w.ensure(room)
  const start = beginRecord(w, KIND_LEAF)
  const b = w.buf
  let at = w.pos
  b[at++] = keys.length & 0xff
  b[at++] = keys.length >>> 8
  at = putVarint(b, at, p)
  if (p > 0) at = putBytes(b, at, keys[0]!.subarray(0, p), 0)
  for (let i = 0; i < keys.length; i++) {
    at = putLeafEntry(b, at, keys[i]!, p, values[i]!)
  }
  w.pos = at
  return endRecord(w, start)
}

/** Writes one leaf entry (key `k` past prefix p, value `v`) at b[at], the caller having made
 *  room; returns the position after it. */
export function putLeafEntry(b: Uint8Array, at: number, k: Uint8Array, p: number, v: StoredValue): number {
  b[at++] = isValueRef(v) ? ENTRY_FLAG_OUT_OF_LINE : 0
  at = putVarint(b, at, k.length - p)
  at = putBytes(b, at, k, p)
  if (!isValueRef(v)) return putBytes(b, putVarint(b, at, v.length), v, 0)
  at = putU48(b, at, v.offset)
  writeU32(b, at, v.crc)
  return putVarint(b, at + 4, v.length)
}

/** Writes one child pointer at b[at], the caller having made room; returns the position after it. */
export function putChildPointer(b: Uint8Array, at: number, c: ChildPointer): number {
  at = putU48(b, at, c.offset)
  writeU32(b, at, c.crc)
  at = putVarint(b, at + 4, c.count)
  return putVarint(b, at, c.bytes)
}

/** Appends a branch record to w; returns its CRC. */
export function encodeBranch(w: ByteWriter, height: number, keys: Uint8Array[], children: readonly ChildPointer[]): number {
  const p = prefixOf(keys)
  w.ensure(RECORD_OVERHEAD + 3 + MAX_VARINT_BYTES + p + children.length * (OFFSET_SIZE + 4 + 2 * MAX_VARINT_BYTES) + keysRoom(keys, p))
  const start = beginRecord(w, KIND_BRANCH)
  const b = w.buf
  let at = w.pos
  b[at++] = children.length & 0xff
  b[at++] = children.length >>> 8
  b[at++] = height
  at = putVarint(b, at, p)
  if (p > 0) at = putBytes(b, at, keys[0]!.subarray(0, p), 0)
  for (let i = 0; i < children.length; i++) {
    at = putChildPointer(b, at, children[i]!)
  }
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    at = putVarint(b, at, k.length - p)
    at = putBytes(b, at, k, p)
  }
  w.pos = at
  return endRecord(w, start)
}

function joinKey(prefix: Uint8Array, suffix: Uint8Array): Uint8Array {
  if (prefix.length === 0) return copyOf(suffix)
  const k = new Uint8Array(prefix.length + suffix.length)
  k.set(prefix)
  k.set(suffix, prefix.length)
  return k
}

/** Thrown for a body that decodes but breaks a rule; the store adds the offset. */
export class NodeRuleError extends Error {}

/**
 * Decodes a leaf body. Keys are fresh copies; inline values are views into `body`
 * (the store keeps each record's buffer to itself, so that is safe).
 * Checks the rules a reader relies on: strictly increasing keys, known flags,
 * out-of-line values behind `offset`.
 */
export function decodeLeaf(body: Uint8Array, offset: number): LeafNode {
  const r = new ByteReader(body)
  const n = r.u16()
  if (n === 0) throw new NodeRuleError('empty leaf')
  const prefix = r.bytes(r.varint())
  const keys: Uint8Array[] = new Array(n)
  const values: StoredValue[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const flags = r.u8()
    if ((flags & ~ENTRY_FLAGS_KNOWN_V1) !== 0) throw new NodeRuleError(`unknown entry flags ${flags}`)
    keys[i] = joinKey(prefix, r.bytes(r.varint()))
    if (flags & ENTRY_FLAG_OUT_OF_LINE) {
      const ref = { offset: r.u48(), crc: r.u32(), length: r.varint() }
      if (ref.offset >= offset) throw new NodeRuleError('value pointer points forward')
      values[i] = ref
    } else {
      values[i] = r.bytes(r.varint())
    }
  }
  if (r.pos !== body.length) throw new NodeRuleError('trailing bytes in leaf')
  checkSorted(keys)
  return { height: 1, keys, values, count: n, edit: 0 }
}

export function decodeBranch(body: Uint8Array, offset: number): BranchNode {
  const r = new ByteReader(body)
  const n = r.u16()
  const height = r.u8()
  if (n < 2) throw new NodeRuleError(`branch with ${n} children`)
  if (height < 2 || height > MAX_TREE_HEIGHT) throw new NodeRuleError(`branch height ${height}`)
  const prefix = r.bytes(r.varint())
  const children: ChildPointer[] = new Array(n)
  let count = 0
  for (let i = 0; i < n; i++) {
    const c = { offset: r.u48(), crc: r.u32(), count: r.varint(), bytes: r.varint() }
    if (c.offset >= offset) throw new NodeRuleError('child pointer points forward')
    children[i] = c
    count += c.count
  }
  const keys: Uint8Array[] = new Array(n - 1)
  for (let i = 0; i < n - 1; i++) keys[i] = joinKey(prefix, r.bytes(r.varint()))
  if (r.pos !== body.length) throw new NodeRuleError('trailing bytes in branch')
  checkSorted(keys)
  return { height, keys, children, count, edit: 0 }
}

function checkSorted(keys: Uint8Array[]): void {
  for (let i = 1; i < keys.length; i++) {
    const a = keys[i - 1]!
    const b = keys[i]!
    const n = Math.min(a.length, b.length)
    let j = 0
    while (j < n && a[j] === b[j]) j++
    const less = j < n ? a[j]! < b[j]! : a.length < b.length
    if (!less) throw new NodeRuleError('keys out of order')
  }
}
