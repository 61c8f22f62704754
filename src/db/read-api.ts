/**
 * The read methods shared by a Database (its latest version), a Snapshot (one past
 * version) and a Transaction (its own view): encodings applied, arguments checked.
 */
import type { RangeWalk, TreeView } from '../txn/tree-view.js'
import { decode, encodeKey, type EncodingName } from './encoding.js'
import { parseRange, type RangeOptions } from './range-options.js'

export type { RangeOptions }

export abstract class ReadApi<K, V> {
  protected abstract readonly keyEncoding: EncodingName
  protected abstract readonly valueEncoding: EncodingName
  /** Throws if this object can no longer be read (closed database, ended transaction). */
  protected abstract assertReadable(): void
  /** The tree to read, as of now. */
  protected abstract view(): TreeView
  /** Told of every iterator handed out (a Database keeps the file it reads open for it). */
  protected track(_user: object): void {}

  /** The value stored under `key`, or undefined. */
  get(key: K | Uint8Array | string): V | undefined {
    this.assertReadable()
    const v = this.view().get(encodeKey(key, this.keyEncoding))
    return v === undefined ? undefined : (decode(v, this.valueEncoding) as V)
  }

  has(key: K | Uint8Array | string): boolean {
    this.assertReadable()
    return this.view().has(encodeKey(key, this.keyEncoding))
  }

  /** [key, value] pairs in key order (or reverse), lazily, as of the moment of this call. */
  range(opts?: RangeOptions<K | Uint8Array | string>): IterableIterator<[K, V]> {
    return this.iterate(opts, true, (k, v) => [decode(k, this.keyEncoding) as K, decode(v!, this.valueEncoding) as V])
  }

  keys(opts?: RangeOptions<K | Uint8Array | string>): IterableIterator<K> {
    return this.iterate(opts, false, (k) => decode(k, this.keyEncoding) as K)
  }

  values(opts?: RangeOptions<K | Uint8Array | string>): IterableIterator<V> {
    return this.iterate(opts, true, (_k, v) => decode(v!, this.valueEncoding) as V)
  }

  /** Number of entries in the range, in O(log n) (gt/gte/lt/lte/prefix; reverse and limit apply too). */
  count(opts?: RangeOptions<K | Uint8Array | string>): number {
    this.assertReadable()
    const r = parseRange(opts, this.keyEncoding)
    return Math.min(this.view().count(r.bounds), r.limit)
  }

  private iterate<T>(opts: RangeOptions | undefined, values: boolean, map: (k: Buffer, v: Buffer | undefined) => T): IterableIterator<T> {
    this.assertReadable()
    const r = parseRange(opts, this.keyEncoding)
    const it = new EntryIterator(this.view().range(r.bounds, r.reverse, r.limit, values), () => this.assertReadable(), map)
    this.track(it)
    return it
  }
}

/**
 * The iterator range(), keys() and values() return: a generator's behaviour (once it ends or
 * throws it stays done; return() ends it) written out, because a full scan spends much of its
 * time per entry and a generator costs a resumption and a result object per step.
 */
class EntryIterator<T> implements IterableIterator<T> {
  private done = false

  constructor(
    private readonly walk: RangeWalk,
    private readonly check: () => void,
    private readonly map: (k: Buffer, v: Buffer | undefined) => T,
  ) {}

  next(): IteratorResult<T, undefined> {
    if (this.done) return { value: undefined, done: true }
    try {
      this.check()
      const w = this.walk
      if (w.next()) return { value: this.map(w.key(), w.value()), done: false }
    } catch (e) {
      this.done = true
      throw e
    }
    this.done = true
    return { value: undefined, done: true }
  }

  return(): IteratorResult<T, undefined> {
    this.done = true
    return { value: undefined, done: true }
  }

  [Symbol.iterator](): this {
    return this
  }
}
// Inherit %IteratorPrototype% as generators do (where Node has iterator helpers, .map() etc. work).
Object.setPrototypeOf(EntryIterator.prototype, Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())))
