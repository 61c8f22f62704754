/**
 * A node as the cache holds it: its record body, untouched, plus an index of where each key,
 * value and child pointer sits in it, both in one slab of an Arena, read through the slab's
 * two views (bytes and words) that all its nodes share.
 * Compared with decoding into one Uint8Array per key and one object per value or child
 * (node-codec.ts), this makes one heap object per node instead of ~2 per entry, so the
 * garbage collector has far less to trace and copy, and a search walks one contiguous array
 * instead of chasing a pointer per probe.
 *
 * Search: every key of a node shares the on-disk prefix (FORMAT.md §5), and key i's "head"
 * holds its next four bytes after it as a big-endian u32, zero-padded. If head(a) <
 * head(b) then a < b (a zero pad means "the key ended", which sorts before any byte,
 * including 0, and an equal head is settled by comparing the bytes), so a binary search
 * compares u32s and reads key bytes only on ties.
 *
 * Packing checks the same rules as decodeLeaf/decodeBranch; a packed node is immutable.
 */
import { Buffer } from 'node:buffer'
import { ByteReader, putBytes, readU32, varintSize } from './bytes.js'
import {
  ENTRY_FLAG_OUT_OF_LINE,
  ENTRY_FLAGS_KNOWN_V1,
  KIND_LEAF,
  MAX_TREE_HEIGHT,
  OFFSET_SIZE,
  RECORD_HEADER_SIZE,
  RECORD_KIND_OFFSET,
  RECORD_OVERHEAD,
} from './constants.js'
import { NodeRuleError, type ChildPointer, type StoredValue, type TreeNode } from './node-codec.js'

/** Marks a value position that holds an out-of-line value's pointer, not inline bytes. */
export const OUT_OF_LINE = 0xffffffff

export class PackedNode {
  constructor(
    /** 1 for a leaf */
    readonly height: number,
    /**
     * All bytes of the arena slab that holds the node (one view per slab, not one per node: a
     * view is a heap object the garbage collector must trace and copy). The node's record
     * body is bytes[bodyAt, bodyEnd); every position below is an index into `bytes`.
     */
    readonly bytes: Uint8Array,
    readonly bodyAt: number,
    readonly bodyEnd: number,
    /** number of keys: a leaf's entries, a branch's separators (children - 1) */
    readonly size: number,
    readonly prefixAt: number,
    readonly prefixLen: number,
    /**
     * The same slab as u32 words; this node's index is the indexLength(height, size) words
     * from ixAt, right after its body. With k = ixAt:
     *   ix[k + 2i], ix[k + 2i + 1]  key i's suffix (after the prefix) is bytes[ix[k + 2i], ix[k + 2i + 1])
     *   ix[k + 2 size + i]          key i's head
     *   leaf, from `auxAt`:         ix[auxAt + 2i], ix[auxAt + 2i + 1] are entry i's inline value
     *                               bounds, or its value pointer's position and OUT_OF_LINE
     *   branch, from `auxAt`:       ix[auxAt + i] is where child pointer i starts
     */
    readonly ix: Uint32Array,
    readonly ixAt: number,
    readonly auxAt: number,
    /** entries in the subtree */
    readonly count: number,
  ) {}

  /** Set by the node cache (store/node-cache.ts) when it takes this node in: which of its
   *  generations the node belongs to; -1 for a node no cache holds. */
  epoch = -1
  /** A cached branch's children as the cache last found them (NodeCache.child): kids[i] is
   *  child i's node, valid while its epoch is the cache's current one. */
  kids: (PackedNode | undefined)[] | undefined = undefined
  /** A branch's sums for the writer's split rule (btree/patch.ts), made on first use: the rule's
   *  total and the bytes of its children's subtrees; -1 until then. */
  ruleTotal = -1
  childBytes = -1
}

function headOf(b: Uint8Array, at: number, end: number): number {
  const n = end - at
  if (n >= 4) return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0
  let h = 0
  for (let i = 0; i < 4; i++) h = h * 256 + (i < n ? b[at + i]! : 0)
  return h
}

/** Bytewise order of a[as, ae) and b[bs, be). */
export function compareRange(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const la = ae - as
  const lb = be - bs
  const n = la < lb ? la : lb
  for (let i = 0; i < n; i++) {
    const d = a[as + i]! - b[bs + i]!
    if (d !== 0) return d
  }
  return la - lb
}

/** An arena's slab before its first take(). */
const NO_SLAB = new ArrayBuffer(0)
const NO_BYTES = new Uint8Array(NO_SLAB)
const NO_WORDS = new Uint32Array(NO_SLAB)

/**
 * Where packed nodes are placed: slabs of SLAB bytes, filled in order. One ArrayBuffer per
 * node would cost a zeroed allocation, a backing-store registration and GC bookkeeping each
 * (measured: ~40% of a bulk load's time in GC); a view per node would still be a heap
 * object to make, trace and copy, so nodes keep positions into the slab's two views. A slab
 * lives as long as any node in it: the cache moves a node it keeps using into the current
 * slab (relocate), so old slabs die with the entries evicted.
 */
export class Arena {
  /** ~250 nodes of 1 KiB share one allocation, while a slab kept alive by a few straggling
   *  nodes pins at most a quarter MiB */
  static readonly SLAB = 256 << 10
  private slab: ArrayBuffer
  private slabBytes: Uint8Array
  private slabWords: Uint32Array
  private used = 0

  /** The first slab is allocated by the first take(): a commit's scratch arena is often
   *  never used (its path was cached), and a zeroed 16 KiB per single put showed in profiles. */
  constructor(private readonly slabSize = Arena.SLAB) {
    this.slab = NO_SLAB
    this.slabBytes = NO_BYTES
    this.slabWords = NO_WORDS
  }

  /** Reserves `n` bytes (n a multiple of 4); returns their offset in `bytes`. */
  take(n: number): number {
    if (this.used + n > this.slab.byteLength) {
      // Not zeroed (calloc of a fresh slab measured 80 us per 256 KiB, malloc 24 us): every
      // byte a take() reserves is written before it is read (withIndex, packLeaf, packBranch).
      this.slab = Buffer.allocUnsafeSlow(Math.max(this.slabSize, n)).buffer
      this.slabBytes = new Uint8Array(this.slab)
      this.slabWords = new Uint32Array(this.slab)
      this.used = 0
    }
    const at = this.used
    this.used += n
    return at
  }

  /** Takes from the start of the current slab again: for an arena whose nodes are dead (a
   *  cursor's one leaf at a time), so that it allocates nothing more. */
  reset(): void {
    this.used = 0
  }

  /** The slab the last take() reserved from, as bytes. */
  get bytes(): Uint8Array {
    return this.slabBytes
  }

  /** The same slab as u32 words. */
  get words(): Uint32Array {
    return this.slabWords
  }
}

/** Words in a node's index: per key its suffix bounds and head, plus a leaf's two value
 *  words per entry or a branch's one word per child. */
function indexLength(height: number, size: number): number {
  return height === 1 ? 5 * size : 4 * size + 1
}

/** Copies `src` into the arena, with room for `ixLength` u32s after it; returns where the
 *  copy starts in the slab (arena.bytes; the index starts at the next multiple of 4). */
function withIndex(src: Uint8Array, ixLength: number, arena: Arena): number {
  const at = arena.take(((src.length + 3) & ~3) + 4 * ixLength)
  arena.bytes.set(src, at)
  return at
}

/** The word where the index of a body copied to `at` starts. */
function indexAt(at: number, bodyLength: number): number {
  return (at + ((bodyLength + 3) & ~3)) >>> 2
}

/** The same node with its bytes copied into the arena's current slab: its positions move by
 *  the distance between the copies (heads and OUT_OF_LINE marks are not positions). */
export function relocate(nd: PackedNode, arena: Arena): PackedNode {
  const len = indexLength(nd.height, nd.size)
  const at = withIndex(nd.bytes.subarray(nd.bodyAt, nd.bodyEnd), len, arena)
  const d = at - nd.bodyAt
  const ix = arena.words
  const ixAt = indexAt(at, nd.bodyEnd - nd.bodyAt)
  const src = nd.ix
  const from = nd.ixAt
  const n = nd.size
  for (let i = 0; i < 2 * n; i++) ix[ixAt + i] = src[from + i]! + d
  for (let i = 2 * n; i < 3 * n; i++) ix[ixAt + i] = src[from + i]!
  if (nd.height === 1) {
    for (let i = 3 * n; i < 5 * n; i += 2) {
      ix[ixAt + i] = src[from + i]! + d
      const e = src[from + i + 1]!
      ix[ixAt + i + 1] = e === OUT_OF_LINE ? e : e + d
    }
  } else {
    for (let i = 3 * n; i < 4 * n + 1; i++) ix[ixAt + i] = src[from + i]! + d
  }
  return new PackedNode(nd.height, arena.bytes, at, at + nd.bodyEnd - nd.bodyAt, n, nd.prefixAt + d, nd.prefixLen, ix, ixAt, ixAt + nd.auxAt - nd.ixAt, nd.count)
}

/** Reads key i's length and suffix from `r` (over the source body, copied to bytes[at...]). */
function readKey(r: ByteReader, bytes: Uint8Array, at: number, ix: Uint32Array, k: number, size: number, i: number): void {
  const len = r.varint()
  const start = at + r.pos
  r.skip(len)
  ix[k + 2 * i] = start
  ix[k + 2 * i + 1] = start + len
  ix[k + 2 * size + i] = headOf(bytes, start, start + len)
  if (i > 0 && compareRange(bytes, ix[k + 2 * i - 2]!, ix[k + 2 * i - 1]!, bytes, start, start + len) >= 0) {
    throw new NodeRuleError('keys out of order')
  }
}

/** A packed copy of the leaf body `src` read from `offset` (src may be a reused buffer);
 *  throws DecodeError/NodeRuleError if it breaks a rule. */
export function packLeaf(src: Uint8Array, offset: number, arena: Arena): PackedNode {
  const r = new ByteReader(src)
  const n = r.u16()
  if (n === 0) throw new NodeRuleError('empty leaf')
  const at = withIndex(src, indexLength(1, n), arena)
  const bytes = arena.bytes
  const ix = arena.words
  const ixAt = indexAt(at, src.length)
  const auxAt = ixAt + 3 * n
  const prefixLen = r.varint()
  const prefixAt = at + r.pos
  r.skip(prefixLen)
  for (let i = 0; i < n; i++) {
    const flags = r.u8()
    if ((flags & ~ENTRY_FLAGS_KNOWN_V1) !== 0) throw new NodeRuleError(`unknown entry flags ${flags}`)
    readKey(r, bytes, at, ix, ixAt, n, i)
    if (flags & ENTRY_FLAG_OUT_OF_LINE) {
      ix[auxAt + 2 * i] = at + r.pos
      ix[auxAt + 2 * i + 1] = OUT_OF_LINE
      if (r.u48() >= offset) throw new NodeRuleError('value pointer points forward')
      r.u32()
      r.varint()
    } else {
      const len = r.varint()
      ix[auxAt + 2 * i] = at + r.pos
      r.skip(len)
      ix[auxAt + 2 * i + 1] = at + r.pos
    }
  }
  if (r.pos !== src.length) throw new NodeRuleError('trailing bytes in leaf')
  return new PackedNode(1, bytes, at, at + src.length, n, prefixAt, prefixLen, ix, ixAt, auxAt, n)
}

/** A packed copy of the branch body `src` read from `offset`; throws DecodeError/NodeRuleError
 *  if it breaks a rule. */
export function packBranch(src: Uint8Array, offset: number, arena: Arena): PackedNode {
  const r = new ByteReader(src)
  const n = r.u16()
  const height = r.u8()
  if (n < 2) throw new NodeRuleError(`branch with ${n} children`)
  if (height < 2 || height > MAX_TREE_HEIGHT) throw new NodeRuleError(`branch height ${height}`)
  const size = n - 1
  const at = withIndex(src, indexLength(height, size), arena)
  const bytes = arena.bytes
  const ix = arena.words
  const ixAt = indexAt(at, src.length)
  const auxAt = ixAt + 3 * size
  const prefixLen = r.varint()
  const prefixAt = at + r.pos
  r.skip(prefixLen)
  let count = 0
  for (let i = 0; i < n; i++) {
    ix[auxAt + i] = at + r.pos
    if (r.u48() >= offset) throw new NodeRuleError('child pointer points forward')
    r.u32()
    count += r.varint()
    r.varint()
  }
  for (let i = 0; i < size; i++) readKey(r, bytes, at, ix, ixAt, size, i)
  if (r.pos !== src.length) throw new NodeRuleError('trailing bytes in branch')
  return new PackedNode(height, bytes, at, at + src.length, size, prefixAt, prefixLen, ix, ixAt, auxAt, count)
}

/**
 * The first i with key(i) >= key, or with `upper` the first with key(i) > key (for a
 * branch: the child to descend into); size if none.
 */
export function packedBound(nd: PackedNode, key: Uint8Array, upper: boolean): number {
  const n = nd.size
  const p = nd.prefixLen
  const body = nd.bytes
  if (p > 0) {
    const at = nd.prefixAt
    for (let j = 0; j < p; j++) {
      if (j >= key.length) return 0
      const a = key[j]!
      const b = body[at + j]!
      if (a !== b) return a < b ? 0 : n
    }
  }
  const h = headOf(key, p, key.length)
  const ix = nd.ix
  const k = nd.ixAt
  const heads = k + 2 * n
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const hm = ix[heads + mid]!
    let below: boolean
    if (hm !== h) below = hm < h
    else {
      const c = compareRange(body, ix[k + 2 * mid]!, ix[k + 2 * mid + 1]!, key, p, key.length)
      below = c < 0 || (upper && c === 0)
    }
    if (below) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Whether key i equals `key`. */
export function packedKeyEquals(nd: PackedNode, i: number, key: Uint8Array): boolean {
  const p = nd.prefixLen
  const s = nd.ix[nd.ixAt + 2 * i]!
  const e = nd.ix[nd.ixAt + 2 * i + 1]!
  if (key.length !== p + e - s) return false
  return compareRange(nd.bytes, nd.prefixAt, nd.prefixAt + p, key, 0, p) === 0 && compareRange(nd.bytes, s, e, key, p, key.length) === 0
}

/** Order of key i against `key`. */
export function packedCompare(nd: PackedNode, i: number, key: Uint8Array): number {
  const p = nd.prefixLen
  const m = p < key.length ? p : key.length
  const c = compareRange(nd.bytes, nd.prefixAt, nd.prefixAt + m, key, 0, m)
  if (c !== 0) return c
  if (key.length < p) return 1
  return compareRange(nd.bytes, nd.ix[nd.ixAt + 2 * i]!, nd.ix[nd.ixAt + 2 * i + 1]!, key, p, key.length)
}

/** Key i as a new buffer made by `alloc` (a Uint8Array or a Buffer). */
export function packedKey<T extends Uint8Array>(nd: PackedNode, i: number, alloc: (n: number) => T): T {
  const p = nd.prefixLen
  const s = nd.ix[nd.ixAt + 2 * i]!
  const e = nd.ix[nd.ixAt + 2 * i + 1]!
  const out = alloc(p + e - s)
  putBytes(out, putBytes(out, 0, nd.bytes, nd.prefixAt, nd.prefixAt + p), nd.bytes, s, e)
  return out
}

/** Entry i's inline value as a new buffer made by `alloc`; undefined if it is out of line. */
export function packedInlineValue<T extends Uint8Array>(nd: PackedNode, i: number, alloc: (n: number) => T): T | undefined {
  const s = nd.ix[nd.auxAt + 2 * i]!
  const e = nd.ix[nd.auxAt + 2 * i + 1]!
  if (e === OUT_OF_LINE) return undefined
  const out = alloc(e - s)
  putBytes(out, 0, nd.bytes, s, e)
  return out
}

/* Readers of fields inside a packed body: packing already checked they are all there. */
function u48At(b: Uint8Array, at: number): number {
  return readU32(b, at) + (b[at + 4]! | (b[at + 5]! << 8)) * 0x100000000
}

/** The varint at b[at]; its end is at + varintSize(value). */
export function varintAt(b: Uint8Array, at: number): number {
  let v = 0
  let mul = 1
  for (;;) {
    const x = b[at++]!
    v += (x & 0x7f) * mul
    if (x < 0x80) return v
    mul *= 128
  }
}

/** Entry i's value: a view of the inline bytes, or the pointer to its value record. */
export function packedValue(nd: PackedNode, i: number): StoredValue {
  const s = nd.ix[nd.auxAt + 2 * i]!
  const e = nd.ix[nd.auxAt + 2 * i + 1]!
  if (e !== OUT_OF_LINE) return nd.bytes.subarray(s, e)
  const b = nd.bytes
  return { offset: u48At(b, s), crc: readU32(b, s + OFFSET_SIZE), length: varintAt(b, s + OFFSET_SIZE + 4) }
}

/** A branch's pointer to child i. */
export function packedChild(nd: PackedNode, i: number): ChildPointer {
  const b = nd.bytes
  const at = nd.ix[nd.auxAt + i]!
  const count = varintAt(b, at + OFFSET_SIZE + 4)
  return { offset: u48At(b, at), crc: readU32(b, at + OFFSET_SIZE), count, bytes: varintAt(b, at + OFFSET_SIZE + 4 + varintSize(count)) }
}

/** The file offset of a branch's child i (what the node cache is keyed by). */
export function packedChildOffset(nd: PackedNode, i: number): number {
  return u48At(nd.bytes, nd.ix[nd.auxAt + i]!)
}

/** Entries under child i of a branch. */
export function packedChildCount(nd: PackedNode, i: number): number {
  return varintAt(nd.bytes, nd.ix[nd.auxAt + i]! + OFFSET_SIZE + 4)
}


/** Bytes a packed node holds, for the cache's budget: its body and index, and 150 bytes for
 *  its object (~90; the count was set when each node also had a body and an index view, and
 *  kept so that the cache's footprint does not grow: the rest pays for slab space dead nodes
 *  still hold). */
export function packedSize(nd: PackedNode): number {
  return ((nd.bodyEnd - nd.bodyAt + 3) & ~3) + 4 * indexLength(nd.height, nd.size) + 150
}

/**
 * The packed form of `body`, a branch body that differs from `nd`'s only in its child
 * pointers (as many children, the same prefix and separators), such as one the writer has
 * just patched (btree/patch.ts). The pointers are found again (only those with `changed[i]`
 * set, if `changed` is given: the others moved by what the replaced ones before them grew or
 * shrank); the separators, copied unchanged at the end of the body, keep their index entries,
 * moved with them, instead of being parsed and checked again as packBranch would.
 */
export function repackBranch(nd: PackedNode, body: Uint8Array, arena: Arena, changed?: readonly unknown[]): PackedNode {
  const size = nd.size
  const at = withIndex(body, indexLength(nd.height, size), arena)
  const bytes = arena.bytes
  const ix = arena.words
  const ixAt = indexAt(at, body.length)
  const auxAt = ixAt + 3 * size
  const prefixAt = at + nd.prefixAt - nd.bodyAt
  let pos = prefixAt + nd.prefixLen
  let count = 0
  if (changed === undefined) {
    for (let i = 0; i <= size; i++) {
      ix[auxAt + i] = pos
      pos += OFFSET_SIZE + 4
      const c = varintAt(bytes, pos)
      count += c
      pos += varintSize(c)
      while (bytes[pos++]! >= 0x80);
    }
  } else {
    const ob = nd.bytes
    count = nd.count
    let moved = pos - nd.ix[nd.auxAt]!
    for (let i = 0; i <= size; i++) {
      const was = nd.ix[nd.auxAt + i]!
      const now = was + moved
      ix[auxAt + i] = now
      if (changed[i] === undefined) continue
      let e = now + OFFSET_SIZE + 4
      const c = varintAt(bytes, e)
      e += varintSize(c)
      while (bytes[e++]! >= 0x80);
      let oe = was + OFFSET_SIZE + 4
      const oc = varintAt(ob, oe)
      oe += varintSize(oc)
      while (ob[oe++]! >= 0x80);
      count += c - oc
      moved += e - now - (oe - was)
    }
  }
  const d = at + body.length - nd.bodyEnd
  const src = nd.ix
  const from = nd.ixAt
  for (let i = 0; i < 2 * size; i++) ix[ixAt + i] = src[from + i]! + d
  for (let i = 2 * size; i < 3 * size; i++) ix[ixAt + i] = src[from + i]!
  return new PackedNode(nd.height, bytes, at, at + body.length, size, prefixAt, nd.prefixLen, ix, ixAt, auxAt, count)
}

/** A packed copy of a whole node record (framing included) known to be well formed, such as
 *  one the writer just encoded. */
export function packRecord(record: Uint8Array, offset: number, arena: Arena): PackedNode {
  const body = record.subarray(RECORD_HEADER_SIZE, record.length - RECORD_OVERHEAD + RECORD_HEADER_SIZE)
  return record[RECORD_KIND_OFFSET] === KIND_LEAF ? packLeaf(body, offset, arena) : packBranch(body, offset, arena)
}

/** A plain Uint8Array allocator for packedKey and friends. */
export const newBytes = (n: number): Uint8Array => new Uint8Array(n)

/** A writer's mutable copy of a packed node, with the given edit number. */
export function unpack(nd: PackedNode, edit: number): TreeNode {
  const keys: Uint8Array[] = new Array(nd.size)
  for (let i = 0; i < nd.size; i++) keys[i] = packedKey(nd, i, newBytes)
  if (nd.height === 1) {
    const values: StoredValue[] = new Array(nd.size)
    for (let i = 0; i < nd.size; i++) values[i] = packedValue(nd, i)
    return { height: 1, keys, values, count: nd.size, edit }
  }
  const children: ChildPointer[] = new Array(nd.size + 1)
  for (let i = 0; i <= nd.size; i++) children[i] = packedChild(nd, i)
  return { height: nd.height, keys, children, count: nd.count, edit }
}
