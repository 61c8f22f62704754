/**
 * Raw (byte-level) reads over one tree: a committed version, or a transaction's tree
 * with its uncommitted writes. Values and keys handed out are copies, so callers can
 * never alter a cached node.
 */
import { copyBytes, Cursor, lookup, rank, type Bounds } from '../btree/read.js'
import { isValueRef, type Ref, type StoredValue } from '../format/node-codec.js'
import type { Store } from '../store/store.js'

export class TreeView {
  constructor(
    readonly store: Store,
    public root: Ref | null,
    public height: number,
  ) {}

  materialize(v: StoredValue): Uint8Array {
    return isValueRef(v) ? this.store.value(v) : v
  }

  get(key: Uint8Array): Buffer | undefined {
    const v = lookup(this.store, this.root, this.height, key)
    return v === undefined ? undefined : copyBytes(this.materialize(v))
  }

  has(key: Uint8Array): boolean {
    return lookup(this.store, this.root, this.height, key) !== undefined
  }

  /** Copies of the entries within bounds, one step at a time, over the tree as it is at
   *  this call, whatever happens to the view later. */
  range(bounds: Bounds, reverse: boolean, limit: number, values: boolean): RangeWalk {
    return new RangeWalk(this.store, this.root, this.height, bounds, reverse, limit, values)
  }

  count(bounds: Bounds): number {
    if (this.root === null) return 0
    const hi = bounds.upper === undefined ? this.root.count : rank(this.store, this.root, this.height, bounds.upper.key, bounds.upper.inclusive)
    const lo = bounds.lower === undefined ? 0 : rank(this.store, this.root, this.height, bounds.lower.key, !bounds.lower.inclusive)
    return Math.max(0, hi - lo)
  }
}

/** A cursor that stops after `limit` entries and hands out copies (values only if asked). */
export class RangeWalk {
  private readonly cursor: Cursor
  private left: number

  constructor(store: Store, root: Ref | null, height: number, bounds: Bounds, reverse: boolean, limit: number, private readonly values: boolean) {
    this.cursor = new Cursor(store, root, height, bounds, reverse)
    this.left = limit
  }

  /** Moves to the next entry; false at the end of the range or past the limit. */
  next(): boolean {
    if (this.left <= 0) return false
    if (!this.cursor.next()) {
      this.left = 0
      return false
    }
    this.left--
    return true
  }

  key(): Buffer {
    return this.cursor.key()
  }

  /** The current value, or undefined if this walk was made without values. */
  value(): Buffer | undefined {
    return this.values ? this.cursor.valueCopy() : undefined
  }
}
