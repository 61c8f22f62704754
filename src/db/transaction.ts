/**
 * The object a transaction callback receives: reads see the transaction's own writes;
 * nothing is visible to others, or durable, until the callback returns.
 */
import { CambiumError } from '../errors.js'
import type { WriteTxn } from '../txn/write-txn.js'
import { encodeKey, ownKey, ownValue, type EncodingName } from './encoding.js'
import { ReadApi } from './read-api.js'

export class Transaction<K = Buffer, V = Buffer> extends ReadApi<K, V> {
  private open = true

  /** @internal created by Database#transaction() */
  constructor(
    private readonly txn: WriteTxn,
    protected readonly keyEncoding: EncodingName,
    protected readonly valueEncoding: EncodingName,
    private readonly assertDb: () => void,
  ) {
    super()
  }

  put(key: K | Uint8Array | string, value: V | Uint8Array | string): void {
    this.assertReadable()
    const k = ownKey(key, this.keyEncoding)
    this.txn.put(k, ownValue(value, this.valueEncoding))
  }

  /** Deletes `key`; returns whether it was there. */
  delete(key: K | Uint8Array | string): boolean {
    this.assertReadable()
    return this.txn.delete(encodeKey(key, this.keyEncoding))
  }

  /** @internal */
  end(): void {
    this.open = false
  }

  protected assertReadable(): void {
    if (!this.open) {
      throw new CambiumError('ERR_TRANSACTION_CLOSED', 'this transaction has ended (its callback returned or threw); start a new db.transaction()')
    }
    this.assertDb()
  }

  protected view(): WriteTxn {
    return this.txn
  }
}
