/**
 * Cache of packed nodes keyed by file offset. Records are immutable, so an entry never
 * needs invalidation: the same offset holds the same node in every version.
 *
 * Two generations approximate LRU in O(1) without reordering a Map on every hit (which
 * leaves deleted slots that make V8's Map iteration and rehashing slow): new and hit
 * entries go to `young`; when `young` holds half the capacity it becomes `old` and the
 * previous `old` is dropped whole. Bytes held stay below `capacity`.
 */
import { relocate, type Arena, type PackedNode } from '../format/packed-node.js'

interface Entry {
  node: PackedNode
  size: number
}

export class NodeCache {
  private young = new Map<number, Entry>()
  private old = new Map<number, Entry>()
  private youngBytes = 0
  private oldBytes = 0

  constructor(
    readonly capacity: number,
    private readonly arena: Arena,
  ) {}

  get(offset: number): PackedNode | undefined {
    const y = this.young.get(offset)
    if (y !== undefined) return y.node
    const o = this.old.get(offset)
    if (o === undefined) return undefined
    this.old.delete(offset)
    this.oldBytes -= o.size
    // Moved into the current slab, so that the old generation's slabs can die with it.
    const node = relocate(o.node, this.arena)
    this.add(offset, { node, size: o.size })
    return node
  }

  set(offset: number, node: PackedNode, size: number): void {
    if (this.young.has(offset)) return
    const o = this.old.get(offset)
    if (o !== undefined) {
      this.old.delete(offset)
      this.oldBytes -= o.size
    }
    this.add(offset, { node, size })
  }

  private add(offset: number, e: Entry): void {
    if (e.size * 2 > this.capacity) return
    if (this.youngBytes + e.size > this.capacity / 2) {
      this.old = this.young
      this.oldBytes = this.youngBytes
      this.young = new Map()
      this.youngBytes = 0
    }
    this.young.set(offset, e)
    this.youngBytes += e.size
  }

  clear(): void {
    this.young = new Map()
    this.old = new Map()
    this.youngBytes = this.oldBytes = 0
  }

  get bytes(): number {
    return this.youngBytes + this.oldBytes
  }

  get size(): number {
    return this.young.size + this.old.size
  }
}
