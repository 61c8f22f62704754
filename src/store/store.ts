/**
 * The record store over one open file: reads and verifies records by offset, caches
 * nodes (packed: format/packed-node.ts), and appends. Knows nothing of versions or trees beyond one node.
 * Invariant: bytes below `end` are never rewritten; appends go to `end` only.
 */
import { CambiumError, corrupt } from '../errors.js'
import { copyOf, DecodeError, readU32 } from '../format/bytes.js'
import { crc32 } from '../format/checksum.js'
import { KIND_BRANCH, KIND_LEAF, KIND_VALUE, RECORD_HEADER_SIZE, RECORD_OVERHEAD } from '../format/constants.js'
import { scanLeaf } from '../format/leaf-scan.js'
import { decodeBranch, decodeLeaf, NodeRuleError, type ChildPointer, type StoredValue, type TreeNode, type ValueRef } from '../format/node-codec.js'
import { Arena, packBranch, packLeaf, type PackedNode } from '../format/packed-node.js'
import type { FileHandle, ReadHelper, SyncHelper } from '../io/file-io.js'
import { ioError } from './io-errors.js'
import { NodeCache } from './node-cache.js'

/** First read of a node record: most nodes fit, so one pread usually suffices. */
export const NODE_READ_GUESS = 4096

export class Store {
  readonly cache: NodeCache
  /** End of the last valid commit record: where the next append goes. */
  end: number
  /** Every byte below this is known durable. */
  syncedUpTo: number
  /** The file's size as this writer left it: `end` plus the zeros of its reserve (FORMAT.md §8). */
  private fileEnd: number
  private poisoned: CambiumError | undefined
  /** Where the running background fdatasync began (syncBehind), or -1 */
  private behindAt = -1
  private helper: SyncHelper | undefined
  /** set once the sync helper's thread was found gone: none is asked for again */
  private helperGone = false
  /** the file layer's read helper (readAhead), once asked for; null if it has none */
  private ahead: ReadHelper | null | undefined
  /** The nodes the last commit wrote, in array form (made on demand), if it wrote few (see
   *  RECENT_MAX): the writer's next transaction copies them instead of unpacking them. Immutable. */
  recent = new Map<number, () => TreeNode>()
  /** where packed nodes live (see Arena) */
  readonly arena = new Arena()
  /** Whether readAhead() may use the file's read helper (a thread; off where the reader is
   *  itself a helper thread, as a compaction worker: on 2 cores a third busy thread slows the writer). */
  readsAhead = true
  /** reused by every first read of a record (single-threaded, and bodies are copied out) */
  private readonly scratch = new Uint8Array(NODE_READ_GUESS)

  constructor(
    readonly handle: FileHandle,
    readonly path: string,
    cacheSize: number,
    end: number,
    syncedUpTo: number,
  ) {
    this.cache = new NodeCache(cacheSize, this.arena)
    this.end = end
    this.syncedUpTo = syncedUpTo
    this.fileEnd = end
  }

  /** Reads exactly `length` bytes at `offset` (fewer only if the file is shorter). */
  read(offset: number, length: number): Uint8Array {
    const buf = new Uint8Array(length)
    let got: number
    try {
      got = this.handle.read(buf, offset)
    } catch (e) {
      throw ioError(e, `read at ${offset}`, this.path)
    }
    return got === length ? buf : buf.subarray(0, got)
  }

  /**
   * Reads the record at `offset`, checks its framing, kind and CRC (and that the CRC is
   * the one its pointer expects), and returns its body (a buffer of its own). `sizeHint`
   * is the first read's length: a record that fits takes one pread into a reused buffer
   * and one copy of its body.
   */
  readRecord(offset: number, kinds: readonly number[], expectedCrc: number, sizeHint: number): { kind: number; body: Uint8Array } {
    return this.readRecordView(offset, kinds, expectedCrc, sizeHint, true)
  }

  /** As readRecord; unless `own`, the body may be a view of a reused buffer, valid only
   *  until the next read (for a caller that copies it anyway). */
  private readRecordView(offset: number, kinds: readonly number[], expectedCrc: number, sizeHint: number, own: boolean): { kind: number; body: Uint8Array } {
    if (offset < 0 || offset + RECORD_OVERHEAD > this.end) throw corrupt('pointer outside the file', offset, this.path)
    const first = Math.max(RECORD_OVERHEAD, Math.min(sizeHint, this.end - offset))
    const ahead = this.ahead?.take(offset)
    let shared = ahead !== undefined || first <= this.scratch.length
    let buf = ahead ?? (shared ? this.readInto(this.scratch, offset, first) : this.read(offset, first))
    if (buf.length < RECORD_HEADER_SIZE) throw corrupt('record cut short', offset, this.path)
    const bodyLength = readU32(buf, 0)
    const kind = buf[4]!
    const total = bodyLength + RECORD_OVERHEAD
    if (!kinds.includes(kind)) throw corrupt(`expected record kind ${kinds.join('/')}, found ${kind}`, offset, this.path)
    if (buf[5] !== 0) throw corrupt(`record flags ${buf[5]} not supported`, offset, this.path)
    if (offset + total > this.end) throw corrupt('record runs past the last commit', offset, this.path)
    if (buf.length < total) {
      buf = this.read(offset, total)
      shared = false
    }
    if (buf.length < total) throw corrupt('record cut short', offset, this.path)
    const crc = crc32(buf.subarray(0, RECORD_HEADER_SIZE + bodyLength))
    if (crc !== readU32(buf, RECORD_HEADER_SIZE + bodyLength)) throw corrupt('record checksum mismatch', offset, this.path)
    if (crc !== expectedCrc) throw corrupt('record is not the one its pointer names (checksum differs)', offset, this.path)
    // The scratch buffer, or a read holding neighbouring records: copy, so a cached body holds only itself.
    const copy = own && (shared || buf.length !== total)
    const body = copy ? copyOf(buf, RECORD_HEADER_SIZE, RECORD_HEADER_SIZE + bodyLength) : buf.subarray(RECORD_HEADER_SIZE, RECORD_HEADER_SIZE + bodyLength)
    return { kind, body }
  }

  /**
   * Has the file layer's read helper, if it has one, read these records ahead (lengths[i]
   * bytes at offsets[i], in the order a walk will want them); readRecordView then takes
   * them from it instead of reading. Replaces the previous batch.
   */
  readAhead(offsets: number[], lengths: number[]): void {
    if (!this.readsAhead) return
    if (this.ahead === undefined) {
      try {
        this.ahead = this.handle.readHelper?.() ?? null
      } catch {
        this.ahead = null
      }
    }
    this.ahead?.post(offsets, lengths)
  }

  /** pread of `length` bytes at `offset` into `buf`; a view of the bytes read. */
  private readInto(buf: Uint8Array, offset: number, length: number): Uint8Array {
    let got: number
    try {
      got = this.handle.read(buf.subarray(0, length), offset)
    } catch (e) {
      throw ioError(e, `read at ${offset}`, this.path)
    }
    return buf.subarray(0, got)
  }

  /** The node a pointer names, from the cache or the file, in its packed (cached) form. */
  node(p: ChildPointer): PackedNode {
    return this.cache.get(p.offset) ?? this.load(p)
  }

  /** Reads, checks and caches the node a pointer names (which the cache does not hold). */
  load(p: ChildPointer): PackedNode {
    const node = this.pack(p, this.arena)
    this.cache.set(p.offset, node)
    return node
  }

  /** The node a pointer names, from the cache, or read into `arena` without caching it (a
   *  writer about to replace it: its old version would only crowd out live nodes). */
  peek(p: ChildPointer, arena: Arena): PackedNode {
    return this.cache.get(p.offset) ?? this.pack(p, arena)
  }

  /** Reads and checks the node a pointer names and packs it into `arena`, without the cache. */
  pack(p: ChildPointer, arena: Arena): PackedNode {
    const { kind, body } = this.readNode(p, false)
    return this.guard(p.offset, () => (kind === KIND_LEAF ? packLeaf(body, p.offset, arena) : packBranch(body, p.offset, arena)))
  }

  /** The value under `key` in the leaf `p` names, searched where it was read, without caching
   *  the leaf (see NodeCache.admit); an inline value is a view of a reused buffer, valid only
   *  until the next read. */
  lookupUncached(p: ChildPointer, key: Uint8Array): StoredValue | undefined {
    const { kind, body } = this.readNode(p, false)
    if (kind !== KIND_LEAF) throw corrupt('branch where a leaf was expected', p.offset, this.path)
    return this.guard(p.offset, () => scanLeaf(body, p.offset, key))
  }

  /** The node a pointer names, decoded into arrays, bypassing the cache (bulk copies). */
  decodeNode(p: ChildPointer): TreeNode {
    const { kind, body } = this.readNode(p, true)
    return this.guard(p.offset, () => (kind === KIND_LEAF ? decodeLeaf(body, p.offset) : decodeBranch(body, p.offset)))
  }

  private readNode(p: ChildPointer, own: boolean): { kind: number; body: Uint8Array } {
    // A leaf's subtree bytes are its record plus any out-of-line values: a fair first read.
    return this.readRecordView(p.offset, NODE_KINDS, p.crc, Math.min(NODE_READ_GUESS, p.bytes), own)
  }

  private guard<T>(offset: number, decode: () => T): T {
    try {
      return decode()
    } catch (e) {
      if (e instanceof DecodeError || e instanceof NodeRuleError) throw corrupt(`bad node: ${e.message}`, offset, this.path, e)
      throw e
    }
  }

  /** Caches a node the writer just appended at `offset`, so the next transaction need not
   *  read it back. */
  remember(offset: number, node: PackedNode): void {
    this.cache.set(offset, node)
  }

  /** The bytes of an out-of-line value. */
  value(ref: ValueRef): Uint8Array {
    const { body } = this.readRecord(ref.offset, VALUE_KINDS, ref.crc, ref.length + RECORD_OVERHEAD)
    if (body.length !== ref.length) throw corrupt('value record length differs from its pointer', ref.offset, this.path)
    return body
  }

  /** Fails fast after an fsync failure: the OS may have dropped the dirty pages. */
  checkWritable(): void {
    if (this.poisoned !== undefined) throw this.poisoned
  }

  get isPoisoned(): boolean {
    return this.poisoned !== undefined
  }

  /**
   * Appends `data` at `end`; its last `zeros` bytes are zeros that extend the reserve rather
   * than records. On a failed write, cuts the file back so no partial record remains.
   */
  append(data: Uint8Array, zeros = 0): number {
    this.checkWritable()
    const at = this.end
    try {
      this.handle.write(data, at)
    } catch (e) {
      try {
        this.handle.truncate(at)
        this.fileEnd = at
      } catch {
        this.poison(e, 'write (and the truncate undoing it)')
      }
      throw ioError(e, `write of ${data.length} bytes at ${at}`, this.path)
    }
    this.end = at + data.length - zeros
    this.fileEnd = Math.max(this.fileEnd, at + data.length)
    return at
  }

  /** Whether `n` more bytes at `end` would pass the reserved zeros (change the file's size). */
  passesReserve(n: number): boolean {
    return this.end + n > this.fileEnd
  }

  /** Cuts the reserve's zeros off (a clean close leaves the file ending at its last commit). */
  dropReserve(): void {
    if (this.fileEnd === this.end || this.poisoned !== undefined) return
    this.settleSync(true)
    try {
      this.handle.truncate(this.end)
      this.handle.sync()
    } catch (e) {
      throw ioError(e, 'cutting the reserved zeros on close', this.path)
    }
    this.fileEnd = this.end
  }

  /**
   * Starts an fdatasync of everything appended so far on the file layer's sync helper, if it
   * has one and none is running. Commits go on meanwhile; once it has finished, settleSync()
   * lets later commits claim where it began as syncedUpTo.
   */
  syncBehind(): void {
    if (this.behindAt >= 0 || this.poisoned !== undefined || this.helperGone) return
    this.helper ??= this.handle.syncHelper?.()
    if (this.helper === undefined) return
    this.behindAt = this.end
    this.helper.start()
  }

  /** If a background fdatasync has finished (with `wait`, once it has), takes its result:
   *  syncedUpTo moves to where it began, or a failure poisons the store as a failed fsync does. */
  settleSync(wait: boolean): void {
    if (this.behindAt < 0 || (!wait && this.helper!.running)) return
    const e = this.helper!.finish()
    const at = this.behindAt
    this.behindAt = -1
    if (e !== undefined && this.helper!.gone === true) {
      // The thread is gone, so the fdatasync may never have run: it runs here instead, and
      // later syncs too (syncBehind no longer starts any; commits sync at the window).
      this.helperGone = true
      this.helper = undefined
      try {
        this.handle.sync()
      } catch (se) {
        this.poison(se, 'fsync')
      }
    } else if (e !== undefined) this.poison(e, 'fsync')
    if (at > this.syncedUpTo) this.syncedUpTo = at
  }

  /** Drops everything appended at or after `offset` (an aborted commit). */
  discardFrom(offset: number): void {
    if (offset >= this.end) return
    try {
      this.handle.truncate(offset)
      this.fileEnd = offset
    } catch (e) {
      this.poison(e, 'truncate after a failed commit')
    }
    this.end = offset
    if (this.syncedUpTo > offset) this.syncedUpTo = offset
    // A background fdatasync vouches only for bytes still there.
    if (this.behindAt > offset) this.behindAt = offset
  }

  sync(): void {
    this.checkWritable()
    // First a background one's result: if it failed, this fsync may not be told (the kernel
    // reports a writeback error once).
    this.settleSync(true)
    try {
      this.handle.sync()
    } catch (e) {
      this.poison(e, 'fsync')
    }
    this.syncedUpTo = this.end
  }

  private poison(e: unknown, what: string): never {
    throw this.poisonWith(e, what)
  }

  /** Refuses every later write: after a failed fsync what reached the disk is unknown. */
  poisonWith(e: unknown, what: string): CambiumError {
    const err = ioError(e, what, this.path)
    this.poisoned = new CambiumError(
      'ERR_IO',
      `${this.path}: an earlier ${what} failed, so what reached the disk is unknown; close and reopen the database`,
      { path: this.path, cause: err },
    )
    return this.poisoned
  }
}

const NODE_KINDS = [KIND_LEAF, KIND_BRANCH] as const
const VALUE_KINDS = [KIND_VALUE] as const
