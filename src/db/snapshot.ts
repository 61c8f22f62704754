/** A read-only view of one committed version; valid while its database is open. */
import type { CommitRecord } from '../format/commit-record.js'
import type { Store } from '../store/store.js'
import { headRoot } from '../txn/commit.js'
import { TreeView } from '../txn/tree-view.js'
import type { EncodingName } from './encoding.js'
import { ReadApi } from './read-api.js'

export class Snapshot<K = Buffer, V = Buffer> extends ReadApi<K, V> {
  /** The version this snapshot shows. */
  readonly version: number
  /** When that version was committed. */
  readonly time: Date
  private readonly tree: TreeView

  /** @internal created by Database#checkout() */
  constructor(
    store: Store,
    commit: CommitRecord,
    protected readonly keyEncoding: EncodingName,
    protected readonly valueEncoding: EncodingName,
    private readonly assertOpen: () => void,
  ) {
    super()
    this.version = commit.version
    this.time = new Date(commit.time)
    this.tree = new TreeView(store, headRoot(commit), commit.height)
  }

  protected assertReadable(): void {
    this.assertOpen()
  }

  protected view(): TreeView {
    return this.tree
  }
}
