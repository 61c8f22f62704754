/**
 * Cache of packed nodes keyed by file offset. Records are immutable, so an entry never
 * needs invalidation: the same offset holds the same node in every version.
 *
 * Two generations approximate LRU in O(1) without reordering a Map on every hit (which
 * leaves deleted slots that make V8's Map iteration and rehashing slow): new and hit
 * entries go to `young`; when `young` holds half the capacity it becomes `old` and the
 * previous `old` is dropped whole. Bytes held stay below `capacity`.
 *
 * A get walks one lookup per tree level and is bound by memory latency, so a Map holds the
 * node itself (its size is recomputed from it when needed), keyed by a small integer where
 * possible (see keyOf).
 */
import { packedChildOffset, packedSize, relocate, type Arena, type PackedNode } from '../format/packed-node.js'

/** 2^30: V8's small integers (Smis) are 31-bit, so offsets from here on are heap numbers,
 *  which a Map must hash as doubles and compare through a pointer. */
const SMI_LIMIT = 0x40000000

/** The Map key of a file offset: offsets in [2^30, 2^31) become the negative Smis
 *  [-2^30, -1], so files up to 2 GiB key by Smis only; later offsets key by themselves
 *  (>= 2^31, so no key is shared). */
function keyOf(offset: number): number {
  return offset >= SMI_LIMIT && offset < 2 * SMI_LIMIT ? offset - 2 * SMI_LIMIT : offset
}

/** Generation numbers, unique across caches, so a node stamped by one cache never passes
 *  for young in another. */
let lastEpoch = 0

export class NodeCache {
  /** The young generation's number, stamped on each node it takes in (PackedNode.epoch). */
  private epoch = ++lastEpoch
  private young = new Map<number, PackedNode>()
  private old = new Map<number, PackedNode>()
  private youngBytes = 0
  private oldBytes = 0
  /** Offsets admit() refused lately, in two generations like the nodes: about as many as the
   *  cache holds nodes of ~1 KiB. */
  private seen = new Set<number>()
  private seenBefore = new Set<number>()
  private readonly seenMax: number
  /** Whether a node has been dropped to make room: until then every node is welcome. */
  private full = false

  constructor(
    readonly capacity: number,
    private readonly arena: Arena,
  ) {
    this.seenMax = Math.max(64, Math.floor(capacity / 2048))
  }

  /**
   * Whether a reader should cache a leaf the cache does not hold: while the cache has never
   * had to drop a node, yes (a cache as big as the file keeps all it reads, a scan warms a
   * cold one); after that, only if one asked for it lately. A leaf read once is then used
   * where it was read (searched in place, or packed into a cursor's scratch space) without
   * pushing out nodes that are read again: with random reads over a file many times the
   * cache most reads are such, and a full scan reads every leaf once.
   */
  admit(offset: number): boolean {
    if (!this.full) return true
    const k = keyOf(offset)
    if (this.seen.has(k) || this.seenBefore.has(k)) return true
    if (this.seen.size >= this.seenMax) {
      this.seenBefore = this.seen
      this.seen = new Set()
    }
    this.seen.add(k)
    return false
  }

  /**
   * Child i of the cached branch `parent`, if cached. A branch remembers the children it
   * was last asked for (PackedNode.kids), which spares a Map lookup per tree level; a
   * remembered child is used only while it is in the young generation, so it is exactly
   * what get() would return. Only a young branch remembers, and only young children: a
   * reference therefore always joins two nodes of one generation, which the cache holds
   * for at most two rotations (a hit on an old node moves a copy, not the node, into the
   * young one), so no reference keeps a dropped node or its slab alive longer than the
   * cache itself would have.
   */
  child(parent: PackedNode, i: number): PackedNode | undefined {
    const kids = parent.kids
    if (kids !== undefined) {
      const k = kids[i]
      if (k !== undefined && k.epoch === this.epoch) return k
    }
    const node = this.get(packedChildOffset(parent, i))
    if (node !== undefined) this.link(parent, i, node)
    return node
  }

  /** Has the young branch `parent` remember `node` (young) as child i; see child(). */
  link(parent: PackedNode, i: number, node: PackedNode): void {
    if (parent.epoch === this.epoch && node.epoch === this.epoch) (parent.kids ??= new Array<PackedNode | undefined>(parent.size + 1))[i] = node
  }

  /** Whether the cache holds the node at `offset` (without counting it as a use). */
  has(offset: number): boolean {
    const k = keyOf(offset)
    return this.young.has(k) || this.old.has(k)
  }

  get(offset: number): PackedNode | undefined {
    const k = keyOf(offset)
    const y = this.young.get(k)
    if (y !== undefined) return y
    const o = this.old.get(k)
    if (o === undefined) return undefined
    this.old.delete(k)
    const size = packedSize(o)
    this.oldBytes -= size
    // Moved into the current slab, so that the old generation's slabs can die with it.
    const node = relocate(o, this.arena)
    this.add(k, node, size)
    return node
  }

  set(offset: number, node: PackedNode): void {
    const k = keyOf(offset)
    if (this.young.has(k)) return
    const o = this.old.get(k)
    if (o !== undefined) {
      this.old.delete(k)
      this.oldBytes -= packedSize(o)
    }
    this.add(k, node, packedSize(node))
  }

  private add(k: number, node: PackedNode, size: number): void {
    if (size * 2 > this.capacity) return
    if (this.youngBytes + size > this.capacity / 2) {
      if (this.oldBytes > 0) this.full = true
      this.old = this.young
      this.oldBytes = this.youngBytes
      this.young = new Map()
      this.youngBytes = 0
      this.epoch = ++lastEpoch
    }
    node.epoch = this.epoch
    this.young.set(k, node)
    this.youngBytes += size
  }

  /** Whether a node has been dropped to make room (since the last clear). */
  get isFull(): boolean {
    return this.full
  }

  clear(): void {
    this.epoch = ++lastEpoch
    this.young = new Map()
    this.old = new Map()
    this.seen = new Set()
    this.seenBefore = new Set()
    this.full = false
    this.youngBytes = this.oldBytes = 0
  }

  get bytes(): number {
    return this.youngBytes + this.oldBytes
  }

  get size(): number {
    return this.young.size + this.old.size
  }
}
