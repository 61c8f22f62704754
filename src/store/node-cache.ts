/**
 * LRU cache of decoded nodes keyed by file offset. Records are immutable, so an entry
 * never needs invalidation: the same offset holds the same node in every version.
 * Bounded by an estimate of the bytes the decoded node occupies.
 */
import type { TreeNode } from '../format/node-codec.js'

interface Entry {
  node: TreeNode
  size: number
}

export class NodeCache {
  private readonly map = new Map<number, Entry>()
  private used = 0

  constructor(readonly capacity: number) {}

  get(offset: number): TreeNode | undefined {
    const e = this.map.get(offset)
    if (e === undefined) return undefined
    // Map iteration order is insertion order: re-inserting marks it most recent.
    this.map.delete(offset)
    this.map.set(offset, e)
    return e.node
  }

  set(offset: number, node: TreeNode, size: number): void {
    const old = this.map.get(offset)
    if (old !== undefined) {
      this.used -= old.size
      this.map.delete(offset)
    }
    this.map.set(offset, { node, size })
    this.used += size
    if (this.used > this.capacity) this.evict()
  }

  private evict(): void {
    for (const [offset, e] of this.map) {
      if (this.used <= this.capacity) break
      this.map.delete(offset)
      this.used -= e.size
    }
  }

  clear(): void {
    this.map.clear()
    this.used = 0
  }

  get bytes(): number {
    return this.used
  }

  get size(): number {
    return this.map.size
  }
}
