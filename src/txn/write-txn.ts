/**
 * A write transaction's private tree: starts at the committed root, takes puts and
 * deletes in memory (copy-on-write), and is either committed (txn/commit.ts) or dropped.
 */
import type { Bounds } from '../btree/read.js'
import { newEdit, put, remove, type WriteContext } from '../btree/write.js'
import type { Ref } from '../format/node-codec.js'
import type { Store } from '../store/store.js'
import { TreeView, type RangeWalk } from './tree-view.js'

export class WriteTxn extends TreeView {
  private readonly ctx: WriteContext
  /** Whether any put/delete was called (each such transaction makes a version). */
  wrote = false

  constructor(store: Store, root: Ref | null, height: number, nodeSize: number, inlineMax: number) {
    super(store, root, height)
    this.ctx = { store, edit: newEdit(), nodeSize, inlineMax }
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.wrote = true
    ;[this.root, this.height] = put(this.ctx, this.root, this.height, key, value)
  }

  delete(key: Uint8Array): boolean {
    this.wrote = true
    if (this.root === null || !this.has(key)) return false
    ;[this.root, this.height] = remove(this.ctx, this.root, this.height, key)
    return true
  }

  /** An iterator over the tree as it is now: later writes in this transaction copy the
   *  nodes it may still visit instead of changing them. */
  override range(bounds: Bounds, reverse: boolean, limit: number, values: boolean): RangeWalk {
    this.ctx.edit = newEdit()
    return super.range(bounds, reverse, limit, values)
  }
}
