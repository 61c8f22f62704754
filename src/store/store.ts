/**
 * The record store over one open file: reads and verifies records by offset, caches
 * decoded nodes, and appends. Knows nothing of versions or trees beyond one node.
 * Invariant: bytes below `end` are never rewritten; appends go to `end` only.
 */
import { CambiumError, corrupt } from '../errors.js'
import { DecodeError, readU32 } from '../format/bytes.js'
import { crc32 } from '../format/checksum.js'
import { KIND_BRANCH, KIND_LEAF, KIND_VALUE, RECORD_HEADER_SIZE, RECORD_OVERHEAD } from '../format/constants.js'
import {
  decodeBranch,
  decodeLeaf,
  NodeRuleError,
  type ChildPointer,
  type TreeNode,
  type ValueRef,
} from '../format/node-codec.js'
import type { FileHandle } from '../io/file-io.js'
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
  private poisoned: CambiumError | undefined

  constructor(
    readonly handle: FileHandle,
    readonly path: string,
    cacheSize: number,
    end: number,
    syncedUpTo: number,
  ) {
    this.cache = new NodeCache(cacheSize)
    this.end = end
    this.syncedUpTo = syncedUpTo
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
   * the one its pointer expects), and returns its body (a buffer of its own).
   */
  readRecord(offset: number, kinds: readonly number[], expectedCrc: number, sizeHint: number): { kind: number; body: Uint8Array } {
    if (offset < 0 || offset + RECORD_OVERHEAD > this.end) throw corrupt('pointer outside the file', offset, this.path)
    let buf = this.read(offset, Math.min(sizeHint, this.end - offset))
    if (buf.length < RECORD_HEADER_SIZE) throw corrupt('record cut short', offset, this.path)
    const bodyLength = readU32(buf, 0)
    const kind = buf[4]!
    const total = bodyLength + RECORD_OVERHEAD
    if (!kinds.includes(kind)) throw corrupt(`expected record kind ${kinds.join('/')}, found ${kind}`, offset, this.path)
    if (buf[5] !== 0) throw corrupt(`record flags ${buf[5]} not supported`, offset, this.path)
    if (offset + total > this.end) throw corrupt('record runs past the last commit', offset, this.path)
    if (buf.length < total) buf = this.read(offset, total)
    if (buf.length < total) throw corrupt('record cut short', offset, this.path)
    const crc = crc32(buf.subarray(0, RECORD_HEADER_SIZE + bodyLength))
    if (crc !== readU32(buf, RECORD_HEADER_SIZE + bodyLength)) throw corrupt('record checksum mismatch', offset, this.path)
    if (crc !== expectedCrc) throw corrupt('record is not the one its pointer names (checksum differs)', offset, this.path)
    // A speculative read may hold neighbouring records: copy, so the cache keeps only this one.
    const body = buf.length > total ? buf.slice(RECORD_HEADER_SIZE, RECORD_HEADER_SIZE + bodyLength) : buf.subarray(RECORD_HEADER_SIZE, RECORD_HEADER_SIZE + bodyLength)
    return { kind, body }
  }

  /** The node a pointer names, from the cache or the file. */
  node(p: ChildPointer): TreeNode {
    return this.loadNode(p, true)
  }

  /** As node(); with `useCache` false the cache is neither read nor filled (bulk copies). */
  loadNode(p: ChildPointer, useCache: boolean): TreeNode {
    if (useCache) {
      const cached = this.cache.get(p.offset)
      if (cached !== undefined) return cached
    }
    const { kind, body } = this.readRecord(p.offset, NODE_KINDS, p.crc, NODE_READ_GUESS)
    let node: TreeNode
    try {
      node = kind === KIND_LEAF ? decodeLeaf(body, p.offset) : decodeBranch(body, p.offset)
    } catch (e) {
      if (e instanceof DecodeError || e instanceof NodeRuleError) throw corrupt(`bad node: ${e.message}`, p.offset, this.path, e)
      throw e
    }
    if (useCache) this.cache.set(p.offset, node, decodedSize(body.length, node))
    return node
  }

  /** Caches a node the writer just appended, so the next transaction need not read it. */
  remember(offset: number, node: TreeNode, recordLength: number): void {
    this.cache.set(offset, node, decodedSize(recordLength - RECORD_OVERHEAD, node))
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

  /** Appends `data` at `end`. On a failed write, cuts the file back so no partial record remains. */
  append(data: Uint8Array): number {
    this.checkWritable()
    const at = this.end
    try {
      this.handle.write(data, at)
    } catch (e) {
      try {
        this.handle.truncate(at)
      } catch {
        this.poison(e, 'write (and the truncate undoing it)')
      }
      throw ioError(e, `write of ${data.length} bytes at ${at}`, this.path)
    }
    this.end = at + data.length
    return at
  }

  /** Drops everything appended at or after `offset` (an aborted commit). */
  discardFrom(offset: number): void {
    if (offset >= this.end) return
    try {
      this.handle.truncate(offset)
    } catch (e) {
      this.poison(e, 'truncate after a failed commit')
    }
    this.end = offset
    if (this.syncedUpTo > offset) this.syncedUpTo = offset
  }

  sync(): void {
    this.checkWritable()
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

/** A rough count of the bytes a decoded node holds: its body, plus ~80 bytes of V8 object
 *  overhead for each key array and each value view, 4 for its search-index head, plus the
 *  node object and its index. */
function decodedSize(bodyLength: number, node: TreeNode): number {
  return bodyLength + 160 + node.keys.length * 164
}
