/**
 * The database handle: the latest version's reads (ReadApi), commits, versions and history.
 * One writer per file (a lock); any number of read-only handles, which follow the writer
 * through refresh().
 */
import { dirname } from 'node:path'
import { CambiumError } from '../errors.js'
import { ByteWriter } from '../format/bytes.js'
import { COMMIT_FLAG_ROLLBACK, COMMIT_RECORD_SIZE, DEFAULT_INLINE_VALUE_MAX, HEADER_SIZE, RECORD_HEADER_SIZE } from '../format/constants.js'
import type { FileIO, WriterLock } from '../io/file-io.js'
import { ioError } from '../store/io-errors.js'
import { findLastCommit } from '../store/recover.js'
import type { Store } from '../store/store.js'
import { sortPuts } from '../btree/merge.js'
import { headRoot, writeCommit, type CommitRequest, type Head } from '../txn/commit.js'
import type { CommitLog } from '../txn/commit-log.js'
import { TreeView } from '../txn/tree-view.js'
import { WriteTxn } from '../txn/write-txn.js'
import { encodeKey, encodeValue, type EncodingName, ownKey, ownValue } from './encoding.js'
import { historyOf, type CommitInfo, type HistoryOptions } from './history.js'
import { compactWorkerPath } from './compact-thread.js'
import { CompactionRun, type CompactOptions, type CompactResult, type Copier } from './compaction.js'
import { OpenFiles, type FileState } from './open-files.js'
import { openFile, type OpenedFile } from './open-file.js'
import type { AutoCompactOptions, Durability, ResolvedOptions } from './options.js'
import { ReadApi } from './read-api.js'
import { Snapshot } from './snapshot.js'
import { Transaction } from './transaction.js'

export type BatchOp<K, V> =
  | { type: 'put'; key: K | Uint8Array | string; value: V | Uint8Array | string }
  | { type: 'del'; key: K | Uint8Array | string }

export interface RecoveryInfo {
  /** Bytes found after the last valid commit at open: cut off (writer) or ignored (reader). */
  tornBytes: number
}

export interface CompactionStatus {
  running: boolean
  /** the last finished automatic compaction */
  lastResult: CompactResult | undefined
  /** the error of the last automatic compaction, if it failed */
  lastError: unknown
}

export class Database<K = Buffer, V = Buffer> extends ReadApi<K, V> {
  readonly path: string
  readonly readOnly: boolean
  readonly durability: Durability
  readonly recovery: RecoveryInfo
  protected readonly keyEncoding: EncodingName
  protected readonly valueEncoding: EncodingName
  private readonly io: FileIO
  private readonly lock: WriterLock | undefined
  private readonly createdAt: number
  private readonly files: OpenFiles
  private readonly nodeSize: number
  private readonly preallocate: number
  private readonly autoCompact: Required<AutoCompactOptions> | undefined
  private run: CompactionRun | undefined
  private readonly autoStatus: CompactionStatus = { running: false, lastResult: undefined, lastError: undefined }
  private head: Head
  /** the view of `head` last handed out: gets need not build one each */
  private headView: { head: Head; view: TreeView } | undefined
  private readonly buffer = new ByteWriter(64 << 10)
  private closed = false
  private inTransaction = false

  /** @internal use open() */
  constructor(path: string, io: FileIO, f: OpenedFile, o: ResolvedOptions) {
    super()
    this.path = path
    this.io = io
    this.readOnly = o.readOnly
    this.durability = o.durability
    this.keyEncoding = o.keyEncoding
    this.valueEncoding = o.valueEncoding
    this.nodeSize = o.nodeSize
    this.preallocate = o.preallocate
    this.autoCompact = o.autoCompact
    this.lock = f.lock
    this.createdAt = f.header.createdAt
    this.head = f.head
    this.recovery = { tornBytes: f.tornBytes }
    this.files = new OpenFiles(io, path, o.cacheSize)
    this.files.replace(f.handle, f.seed, f.header.baseSize, f.head.offset + COMMIT_RECORD_SIZE)
  }

  private get state(): FileState {
    return this.files.current
  }

  private get store(): Store {
    return this.state.store
  }

  private get log(): CommitLog {
    return this.state.log
  }

  /** The latest committed version (0 for a new, empty database). */
  get version(): number {
    this.assertReadable()
    return this.head.commit.version
  }

  get isOpen(): boolean {
    return !this.closed
  }

  protected assertReadable(): void {
    if (this.closed) throw new CambiumError('ERR_CLOSED', `${this.path}: the database is closed; open it again to use it`, { path: this.path })
  }

  private assertWritable(): void {
    this.assertReadable()
    if (this.readOnly) {
      throw new CambiumError('ERR_READ_ONLY', `${this.path}: opened with { readOnly: true }; open without it (one writer at a time) to write`, { path: this.path })
    }
    if (this.inTransaction) throw new TypeError('db writes are not allowed inside db.transaction(); use the tx argument (tx.put, tx.delete)')
    this.store.checkWritable()
  }

  protected view(): TreeView {
    const v = this.headView
    if (v !== undefined && v.head === this.head && v.view.store === this.store) return v.view
    const view = new TreeView(this.store, headRoot(this.head.commit), this.head.commit.height)
    this.headView = { head: this.head, view }
    return view
  }

  protected override track(user: object): void {
    this.files.track(user)
  }

  private newTxn(): WriteTxn {
    return new WriteTxn(this.store, headRoot(this.head.commit), this.head.commit.height, this.nodeSize, DEFAULT_INLINE_VALUE_MAX)
  }

  private commitTxn(t: WriteTxn): number {
    return this.commit({ root: t.root, height: t.height, flags: 0, sourceVersion: 0 })
  }

  private commit(req: CommitRequest): number {
    this.head = writeCommit(
      this.store,
      this.head,
      this.log.skipFor(this.head),
      req,
      { buffer: this.buffer, durable: this.durability === 'full', reserve: this.preallocate, roomFor: this.roomFor, inlineMax: DEFAULT_INLINE_VALUE_MAX, seed: this.state.seed },
    )
    if (this.autoCompact !== undefined && this.run === undefined) this.maybeAutoCompact(this.autoCompact)
    return this.head.commit.version
  }

  /** A reserve is taken only while the file system keeps 64x its size free after it, so its
   *  zeros never turn a commit that fits into ERR_NO_SPACE. */
  private readonly roomFor = (bytes: number): boolean => {
    try {
      return (this.io.freeSpace?.(dirname(this.path)) ?? Infinity) >= 64 * bytes
    } catch {
      return false
    }
  }

  /** Stores `value` under `key` in one commit (by the put-only path, btree/merge.ts);
   *  returns the new version. */
  put(key: K | Uint8Array | string, value: V | Uint8Array | string): number {
    this.assertWritable()
    // Not copied: a put-only commit keeps no reference to the caller's bytes (writeCommit).
    const k = encodeKey(key, this.keyEncoding)
    const v = encodeValue(value, this.valueEncoding)
    const c = this.head.commit
    return this.commit({ root: headRoot(c), height: c.height, flags: 0, sourceVersion: 0, puts: { keys: [k], values: [v], nodeSize: this.nodeSize } })
  }

  /** Deletes `key` in one commit (a commit is made even if the key was absent); returns the new version. */
  delete(key: K | Uint8Array | string): number {
    this.assertWritable()
    const k = encodeKey(key, this.keyEncoding)
    const t = this.newTxn()
    t.delete(k)
    return this.commitTxn(t)
  }

  /** Applies all operations in one atomic commit; returns the new version. */
  batch(ops: readonly BatchOp<K, V>[]): number {
    this.assertWritable()
    if (!Array.isArray(ops)) throw new TypeError('batch(ops) takes an array of { type: "put", key, value } / { type: "del", key }')
    if (ops.every((op) => op !== null && typeof op === 'object' && op.type === 'put')) return this.batchPuts(ops)
    const t = this.newTxn()
    for (const op of ops) {
      if (op === null || typeof op !== 'object') throw new TypeError('batch: each operation must be an object { type, key, value? }')
      if (op.type === 'put') t.put(ownKey(op.key, this.keyEncoding), ownValue(op.value, this.valueEncoding))
      else if (op.type === 'del') t.delete(encodeKey(op.key, this.keyEncoding))
      else throw new TypeError(`batch: operation type must be 'put' or 'del', got ${JSON.stringify((op as { type: unknown }).type)}`)
    }
    if (ops.length === 0) return this.head.commit.version
    return this.commitTxn(t)
  }

  /** A batch of puts only: sorted, then merged into the tree in one pass (btree/merge.ts). */
  private batchPuts(ops: readonly BatchOp<K, V>[]): number {
    const keys: Uint8Array[] = new Array(ops.length)
    const values: Uint8Array[] = new Array(ops.length)
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as { key: K; value: V }
      keys[i] = encodeKey(op.key, this.keyEncoding)
      values[i] = encodeValue(op.value, this.valueEncoding)
    }
    if (ops.length === 0) return this.head.commit.version
    // Not copied: a put-only commit keeps no reference to the caller's bytes (writeCommit).
    const [k, v] = sortPuts(keys, values)
    const c = this.head.commit
    return this.commit({ root: headRoot(c), height: c.height, flags: 0, sourceVersion: 0, puts: { keys: k, values: v, nodeSize: this.nodeSize } })
  }

  /**
   * Runs `fn` with a transaction; if it returns, its writes are committed atomically
   * (if it made any) and its result is returned; if it throws, nothing is committed.
   * `fn` must be synchronous.
   */
  transaction<R>(fn: (tx: Transaction<K, V>) => R): R {
    this.assertWritable()
    if (typeof fn !== 'function') throw new TypeError('transaction(fn) takes a function (tx) => result')
    const t = this.newTxn()
    const tx = new Transaction<K, V>(t, this.keyEncoding, this.valueEncoding, () => this.assertReadable())
    this.inTransaction = true
    let result: R
    try {
      result = fn(tx)
    } finally {
      this.inTransaction = false
      tx.end()
    }
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      throw new TypeError('transaction callbacks must be synchronous: the callback returned a promise, so nothing was committed')
    }
    // The callback may have closed the database: then nothing can be committed.
    this.assertReadable()
    if (t.wrote) this.commitTxn(t)
    return result
  }

  /** A read-only view of `version`, valid while the database is open. */
  checkout(version: number): Snapshot<K, V> {
    this.assertReadable()
    const h = this.findVersion(version, 'checkout')
    const s = new Snapshot<K, V>(this.store, h.commit, this.keyEncoding, this.valueEncoding, () => this.assertReadable())
    this.track(s)
    return s
  }

  /** Appends a commit whose contents equal `version`'s; later versions stay readable. Returns the new version. */
  rollback(version: number): number {
    this.assertWritable()
    const h = this.findVersion(version, 'rollback')
    return this.commit({ root: headRoot(h.commit), height: h.commit.height, flags: COMMIT_FLAG_ROLLBACK, sourceVersion: version })
  }

  /** Commits, oldest first (or newest first with reverse), lazily. */
  history(opts?: HistoryOptions): IterableIterator<CommitInfo> {
    this.assertReadable()
    const it = historyOf(this.log, this.head, opts, () => this.assertReadable())
    this.track(it)
    return it
  }

  /** Picks up commits made by the writer since this handle last looked; returns the version. */
  refresh(): number {
    this.assertReadable()
    if (!this.readOnly) return this.head.commit.version
    let id = this.state.fileId
    try {
      id = this.io.fileId(this.path)
    } catch {
      // Missing for a moment: keep reading the file this handle has.
    }
    if (id !== this.state.fileId) {
      // A compaction replaced the file: continue on the new one.
      const f = openFile(this.io, this.path, true, false)
      this.files.replace(f.handle, f.seed, f.header.baseSize, f.head.offset + COMMIT_RECORD_SIZE)
      this.head = f.head
      return this.head.commit.version
    }
    let size: number
    try {
      size = this.state.handle.size()
    } catch (e) {
      throw ioError(e, 'refresh', this.path)
    }
    const end = this.head.offset + COMMIT_RECORD_SIZE
    if (size === end) return this.head.commit.version
    // Zeros where the next record would start: only the writer's reserve follows (§8).
    if (size > end && this.store.read(end, RECORD_HEADER_SIZE).every((b) => b === 0)) return this.head.commit.version
    // A shorter file means a writer cut a tail this handle never trusted, then maybe wrote on.
    const { handle, seed } = this.state
    const found = size < end ? findLastCommit(handle, seed, size) : findLastCommit(handle, seed, size, end)
    if (found !== undefined && found.offset !== this.head.offset) {
      this.head = { commit: found.commit, offset: found.offset }
      this.store.end = found.offset + COMMIT_RECORD_SIZE
    }
    return this.head.commit.version
  }

  /** Closes the file (syncing first with durability 'none') and releases the writer lock. Idempotent.
   *  A compaction in progress is abandoned (its temporary file removed). */
  close(): void {
    if (this.closed) return
    this.closed = true
    try {
      this.run?.abort()
      if (!this.readOnly && this.durability === 'none' && !this.store.isPoisoned) this.store.sync()
      if (!this.readOnly) this.store.dropReserve()
    } finally {
      try {
        this.files.closeAll()
      } finally {
        this.lock?.release()
        this.store.cache.clear()
      }
    }
  }

  /**
   * Rewrites the versions to keep into a fresh file and swaps it in atomically; see
   * CompactOptions. Blocks until done; compactAsync() lets writes continue meanwhile.
   */
  compact(opts: CompactOptions = {}): CompactResult {
    const run = this.startCompaction(opts)
    try {
      while (!run.step(Infinity));
      return run.finish()
    } catch (e) {
      run.abort()
      throw e
    } finally {
      this.run = undefined
    }
  }

  /**
   * As compact(), while this process keeps committing: the copy runs on a worker thread (the
   * real file system), or else in slices of `sliceMs` (default 10 ms) between which the event
   * loop runs; commits made meanwhile are copied in catch-up rounds, and only the short final
   * round and the swap hold the thread.
   */
  async compactAsync(opts: CompactOptions = {}): Promise<CompactResult> {
    const slice = opts.sliceMs ?? 10
    if (typeof slice !== 'number' || !(slice > 0)) throw new RangeError("compact option 'sliceMs' must be a positive number of milliseconds")
    const t0 = performance.now()
    // The copy runs on a worker where it can open the files itself (not through a test's file layer).
    const run = this.startCompaction(opts, this.io.native === true && this.io.exists(compactWorkerPath()))
    run.syncInBackground()
    try {
      let done = run.step(slice)
      // Everything up to the first yield held the caller's thread: one pause.
      run.heldSince(t0)
      while (!done) {
        await run.wait()
        this.assertReadable()
        this.store.checkWritable()
        done = run.step(slice)
      }
      await run.settle()
      this.assertReadable()
      this.store.checkWritable()
      return run.finish()
    } catch (e) {
      run.abort()
      throw e
    } finally {
      this.run = undefined
    }
  }

  /** State of automatic compaction (the autoCompact option). */
  get compaction(): CompactionStatus {
    return { ...this.autoStatus, running: this.run !== undefined }
  }

  private startCompaction(opts: CompactOptions, thread = false): CompactionRun {
    this.assertWritable()
    if (opts === null || typeof opts !== 'object') throw new TypeError('compact(options) takes an object { keep, onProgress, sliceMs }')
    if (this.run !== undefined) throw new CambiumError('ERR_BUSY', `${this.path}: a compaction is already running; wait for it to finish`, { path: this.path })
    const db = this
    this.run = new CompactionRun(
      {
        io: this.io,
        path: this.path,
        get store() {
          return db.store
        },
        get log() {
          return db.log
        },
        get head() {
          return db.head
        },
        createdAt: this.createdAt,
        adopt: (c, head) => this.adopt(c, head),
      },
      opts,
      thread,
    )
    return this.run
  }

  /** After the rename: the new file becomes this handle's, then the rename is made durable. */
  private adopt(c: Copier, head: Head): void {
    if (head.commit.version !== this.head.commit.version) throw new Error('compaction did not reach the latest version')
    this.files.replace(c.handle, c.seed, c.end, c.end)
    this.head = head
    try {
      this.io.syncDir(dirname(this.path))
    } catch (e) {
      // Until the rename is durable, a crash could bring back the old file (and the history
      // compaction dropped): acknowledge nothing more, and say so.
      throw this.store.poisonWith(e, 'directory fsync after compaction')
    }
  }

  private maybeAutoCompact(a: Required<AutoCompactOptions>): void {
    const size = this.store.end
    if (size < a.minSize) return
    const live = Math.max(this.head.commit.treeBytes, this.state.baseSize)
    if ((size - live) / size <= a.ratio) return
    this.compactAsync({ keep: a.keep }).then(
      (r) => {
        this.autoStatus.lastResult = r
        this.autoStatus.lastError = undefined
      },
      (e: unknown) => {
        this.autoStatus.lastError = e
      },
    )
  }

  /** `using db = open(...)` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close()
  }

  private findVersion(version: number, what: string): Head {
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
      throw new RangeError(`${what}(version) takes a non-negative integer version, got ${String(version)}`)
    }
    const h = version <= this.head.commit.version ? this.log.find(this.head, version) : undefined
    if (h === undefined) {
      const first = this.log.first(this.head).commit.version
      const gaps = this.state.baseSize > 0 ? ' (compaction may have dropped some in between)' : ''
      throw new CambiumError(
        'ERR_VERSION_NOT_FOUND',
        `${this.path}: version ${version} is not in this file; it holds versions ${first} to ${this.head.commit.version}${gaps}`,
        { path: this.path },
      )
    }
    return h
  }

  /** @internal for tools and tests: file layout facts */
  get internals(): { store: Store; head: Head; log: CommitLog; headerSize: number } {
    return { store: this.store, head: this.head, log: this.log, headerSize: HEADER_SIZE }
  }
}
