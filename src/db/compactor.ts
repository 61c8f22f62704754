/**
 * Copies chosen versions of a database into a fresh file (FORMAT.md §11). Versions are
 * copied oldest first; a node or value already copied (same old offset) is referenced, not
 * copied again, so kept versions share nodes in the new file as they did in the old one, and
 * a catch-up round copies only what the newer commits changed. Work is done in steps with a
 * deadline so that writers can commit between steps. The new file goes live only through
 * Database (fsync, rename, directory fsync).
 */
import { randomBytes } from 'node:crypto'
import { corrupt } from '../errors.js'
import { ByteWriter, putBytes, putU48, writeU32 } from '../format/bytes.js'
import { encodeCommit, saltSeed, type CommitRecord } from '../format/commit-record.js'
import { COMMIT_RECORD_SIZE, HEADER_SALT_SIZE, KIND_LEAF, KIND_VALUE, OFFSET_SIZE, RECORD_OVERHEAD } from '../format/constants.js'
import { encodeHeader, newHeader } from '../format/header.js'
import { encodeBranch, isPointer, type BranchNode, type ChildPointer, type ValueRef } from '../format/node-codec.js'
import { Arena, OUT_OF_LINE, packedValue } from '../format/packed-node.js'
import { beginRecord, endRecord } from '../format/record.js'
import type { FileHandle } from '../io/file-io.js'
import { ioError } from '../store/io-errors.js'
import { NODE_READ_GUESS, type Store } from '../store/store.js'
import type { Head } from '../txn/commit.js'
import { skipTarget } from '../txn/commit-log.js'

/** Buffered output is written to the new file in chunks of this size. */
const FLUSH_AT = 4 << 20
/** The new file is fsynced every this many bytes, so the final fsync never has a huge backlog. */
const SYNC_EVERY = 8 << 20
/** Nodes copied between two looks at the clock. */
const CLOCK_EVERY = 64

/** A branch being copied: its children are copied first, then it is written with their new pointers. */
interface Frame {
  ptr: ChildPointer
  node: BranchNode
  next: number
  ptrs: ChildPointer[]
}

export interface CopiedCommit {
  version: number
  offset: number
}

export class Compactor {
  readonly seed: number
  private readonly salt: Uint8Array
  private readonly w = new ByteWriter(FLUSH_AT + (1 << 20))
  /** File offset of w's byte 0. */
  private flushed: number
  private syncedAt: number
  /** periodic syncs run on another thread (see periodicSync) */
  private background = false
  private syncing: Promise<void> | undefined
  private syncFailure: unknown
  private readonly nodes = new Map<number, ChildPointer>()
  private readonly values = new Map<number, ValueRef>()
  /** where copyLeaf packs each leaf it reads (reset per leaf) */
  private readonly scratch = new Arena()
  readonly copied: CopiedCommit[] = []
  private last: CommitRecord | undefined
  private lastOffset = 0
  /** Old commits to copy; `record` false copies the tree only (its nodes are shared by a later
   *  kept version, so copying them early makes the final round short). */
  private readonly queue: { head: Head; record: boolean }[] = []
  private stack: Frame[] = []
  private root: ChildPointer | null | undefined
  nodesCopied = 0
  valuesCopied = 0

  constructor(
    private readonly out: FileHandle,
    private readonly path: string,
    private readonly source: Store,
    private readonly createdAt: number,
  ) {
    const header = newHeader(randomBytes(HEADER_SALT_SIZE), createdAt)
    this.salt = header.salt
    this.seed = saltSeed(header.salt)
    this.w.bytes(encodeHeader(header))
    this.flushed = 0
    this.syncedAt = 0
  }

  /** Bytes of the new file so far (written or buffered). */
  get size(): number {
    return this.flushed + this.w.pos
  }

  get pending(): number {
    return this.queue.length
  }

  get versionsCopied(): number {
    return this.copied.length
  }

  /** Resolves on the event loop's next turn (compactAsync copies in steps between turns). */
  wait(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve))
  }

  /** Closes the new file (an abort; the caller removes it). */
  close(): void {
    this.out.close()
  }

  get lastCopied(): CommitRecord | undefined {
    return this.last
  }

  /** Adds old commits (ascending versions, above any already queued) to copy. */
  enqueue(heads: readonly Head[], record = true): void {
    for (const head of heads) this.queue.push({ head, record })
  }

  /** Copies until the queue is empty (returns true) or the clock passes `deadline` (ms, performance.now()). */
  step(deadline: number): boolean {
    let n = 0
    while (this.queue.length > 0) {
      const { head: h, record } = this.queue[0]!
      if (this.root === undefined) this.begin(h.commit)
      while (this.stack.length > 0) {
        this.advance()
        if (++n % CLOCK_EVERY === 0 && performance.now() > deadline) return false
      }
      if (record) this.writeCommit(h.commit)
      this.queue.shift()
      this.root = undefined
      if (performance.now() > deadline && this.queue.length > 0) return false
    }
    return true
  }

  private begin(c: CommitRecord): void {
    if (c.rootOffset === 0) {
      this.root = null
      return
    }
    const ptr: ChildPointer = { offset: c.rootOffset, crc: c.rootCrc, count: c.count, bytes: c.treeBytes }
    const done = this.nodes.get(ptr.offset)
    if (done !== undefined) {
      this.root = done
      return
    }
    this.root = undefined
    if (c.height === 1) this.root = this.copyLeaf(ptr)
    else this.stack = [{ ptr, node: this.branch(ptr, c.height), next: 0, ptrs: [] }]
  }

  /** The branch `ptr` names, decoded, checked to be at `height`. The leaves under a branch
   *  of height 2 that are still to copy are read ahead (Store.readAhead), in copy order. */
  private branch(ptr: ChildPointer, height: number): BranchNode {
    const node = this.source.decodeNode(ptr)
    if (node.height !== height) throw corrupt(`node at height ${node.height} where ${height} was expected`, ptr.offset, this.path)
    const b = node as BranchNode
    if (height === 2) {
      const offsets: number[] = []
      const lengths: number[] = []
      for (const c of b.children) {
        if (!isPointer(c) || this.nodes.has(c.offset)) continue
        offsets.push(c.offset)
        lengths.push(Math.min(NODE_READ_GUESS, c.bytes))
      }
      if (offsets.length > 1) this.source.readAhead(offsets, lengths)
    }
    return b
  }

  /** One unit of the depth-first copy: copy one leaf, descend into one branch or write one. */
  private advance(): void {
    const f = this.stack[this.stack.length - 1]!
    const b = f.node
    while (f.next < b.children.length) {
      const c = b.children[f.next]!
      if (!isPointer(c)) throw new Error('compactor met an unwritten node')
      const done = this.nodes.get(c.offset)
      if (done !== undefined) {
        f.ptrs.push(done)
        f.next++
        continue
      }
      if (b.height === 2) {
        f.ptrs.push(this.copyLeaf(c))
        f.next++
        return
      }
      this.stack.push({ ptr: c, node: this.branch(c, b.height - 1), next: 0, ptrs: [] })
      return
    }
    const p = this.writeBranch(f)
    this.nodes.set(f.ptr.offset, p)
    this.stack.pop()
    const parent = this.stack[this.stack.length - 1]
    if (parent === undefined) this.root = p
    else {
      parent.ptrs.push(p)
      parent.next++
    }
  }

  /**
   * Copies the leaf `ptr` names as it is: its body holds no offsets but those of its
   * out-of-line values, which are copied first (once each) and patched in, so the body is
   * neither decoded nor re-encoded. Packing it (into a scratch slab reused per leaf) checks
   * every rule a reader checks, as decoding did.
   */
  private copyLeaf(ptr: ChildPointer): ChildPointer {
    this.scratch.reset()
    const nd = this.source.pack(ptr, this.scratch)
    if (nd.height !== 1) throw corrupt(`node at height ${nd.height} where 1 was expected`, ptr.offset, this.path)
    const w = this.w
    let bytes = 0
    let refs: ValueRef[] | undefined
    for (let i = 0; i < nd.size; i++) {
      if (nd.ix[nd.auxAt + 2 * i + 1] !== OUT_OF_LINE) continue
      const ref = this.copyValue(packedValue(nd, i) as ValueRef)
      ;(refs ??= []).push(ref)
      bytes += RECORD_OVERHEAD + ref.length
    }
    const start = beginRecord(w, KIND_LEAF)
    const bodyLength = nd.bodyEnd - nd.bodyAt
    w.ensure(bodyLength)
    const body = w.pos
    w.pos = putBytes(w.buf, body, nd.bytes, nd.bodyAt, nd.bodyEnd)
    if (refs !== undefined) {
      let q = 0
      for (let i = 0; i < nd.size; i++) {
        if (nd.ix[nd.auxAt + 2 * i + 1] !== OUT_OF_LINE) continue
        const at = body + nd.ix[nd.auxAt + 2 * i]! - nd.bodyAt
        const ref = refs[q++]!
        putU48(w.buf, at, ref.offset)
        writeU32(w.buf, at + OFFSET_SIZE, ref.crc)
      }
    }
    const crc = endRecord(w, start)
    const offset = this.flushed + start
    bytes += w.pos - start
    this.nodesCopied++
    const copied = { offset, crc, count: nd.size, bytes }
    this.nodes.set(ptr.offset, copied)
    this.maybeFlush()
    return copied
  }

  /** The value record `v` names, copied into the new file unless it already was. */
  private copyValue(v: ValueRef): ValueRef {
    let ref = this.values.get(v.offset)
    if (ref === undefined) {
      const body = this.source.value(v)
      const w = this.w
      const vs = w.pos
      beginRecord(w, KIND_VALUE)
      w.bytes(body)
      ref = { offset: this.flushed + vs, crc: endRecord(w, vs), length: body.length }
      this.values.set(v.offset, ref)
      this.valuesCopied++
    }
    return ref
  }

  private writeBranch(f: Frame): ChildPointer {
    const w = this.w
    const start = w.pos
    const crc = encodeBranch(w, f.node.height, f.node.keys, f.ptrs)
    let count = 0
    let bytes = 0
    for (const p of f.ptrs) {
      count += p.count
      bytes += p.bytes
    }
    const offset = this.flushed + start
    bytes += w.pos - start
    this.nodesCopied++
    this.maybeFlush()
    return { offset, crc, count, bytes }
  }

  private writeCommit(old: CommitRecord): void {
    const root = this.root ?? null
    let skipOffset = 0
    const target = skipTarget(old.version)
    for (let i = this.copied.length - 1; i >= 0; i--) {
      if (this.copied[i]!.version <= target) {
        skipOffset = this.copied[i]!.offset
        break
      }
    }
    const offset = this.size
    const c: CommitRecord = {
      version: old.version,
      time: Math.max(old.time, this.last?.time ?? 0),
      rootOffset: root?.offset ?? 0,
      rootCrc: root?.crc ?? 0,
      height: root === null ? 0 : old.height,
      flags: old.flags,
      count: root?.count ?? 0,
      treeBytes: root?.bytes ?? 0,
      prevOffset: this.lastOffset,
      skipOffset,
      // The whole file is fsynced before it goes live, so nothing before this record is
      // left for recovery to verify.
      syncedUpTo: offset,
      sourceVersion: old.sourceVersion,
    }
    encodeCommit(this.w, c, this.seed)
    this.copied.push({ version: c.version, offset })
    this.last = c
    this.lastOffset = offset
    this.maybeFlush()
  }

  private maybeFlush(): void {
    if (this.w.pos >= FLUSH_AT) this.flush()
  }

  private flush(): void {
    if (this.w.pos === 0) return
    try {
      this.out.write(this.w.result(), this.flushed)
      this.flushed += this.w.pos
      this.w.pos = 0
      if (this.flushed - this.syncedAt >= SYNC_EVERY) this.periodicSync()
    } catch (e) {
      throw ioError(e, 'writing the compacted file', this.path)
    }
  }

  /**
   * The sync every SYNC_EVERY bytes, which keeps the final one (inside the writer's pause)
   * short. In the background (compactAsync) it runs on another thread, one at a time (while
   * one runs, the next flush tries again); its failure is thrown by the next flush or finish.
   * It must be seen: the kernel reports a writeback error to one fdatasync only.
   */
  private periodicSync(): void {
    if (this.syncFailure !== undefined) throw ioError(this.syncFailure, 'fsync of the compacted file', this.path)
    if (!this.background) {
      this.out.sync()
    } else {
      if (this.syncing !== undefined) return
      this.syncing = this.out.syncAsync!().then(
        () => {
          this.syncing = undefined
        },
        (e: unknown) => {
          this.syncing = undefined
          this.syncFailure ??= e
        },
      )
    }
    this.syncedAt = this.flushed
  }

  /** Runs the periodic syncs on another thread, if the file layer can (compactAsync). */
  syncInBackground(): void {
    this.background = this.out.syncAsync !== undefined
  }

  /** Waits for a background sync, then syncs on this thread from here on (the final round). */
  async settle(): Promise<void> {
    this.background = false
    await this.syncing
  }

  /** Writes out everything, records the final size in the header, and fsyncs; returns the
   *  new file's head. (The header is rewritten here, before the file is live: once renamed
   *  into place no byte of it changes.) */
  finish(): Head {
    if (this.last === undefined) throw new Error('compactor finished without copying a version')
    if (this.syncing !== undefined) throw new Error('compactor finished with a background fsync running (settle() first)')
    if (this.syncFailure !== undefined) throw ioError(this.syncFailure, 'fsync of the compacted file', this.path)
    this.flush()
    try {
      this.out.write(encodeHeader(newHeader(this.salt, this.createdAt, this.end)), 0)
      this.out.sync()
    } catch (e) {
      throw ioError(e, 'fsync of the compacted file', this.path)
    }
    return { commit: this.last, offset: this.lastOffset }
  }

  get handle(): FileHandle {
    return this.out
  }

  /** The new file's end (valid once every queued commit is copied). */
  get end(): number {
    return this.lastOffset + COMMIT_RECORD_SIZE
  }
}
