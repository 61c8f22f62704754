/**
 * Writes cambium files record by record with the format's own encoders, including files that
 * break the tree rules while every checksum is right: the checker must find each such break.
 */
import { ByteWriter } from '../../src/format/bytes.js'
import { encodeCommit, saltSeed, type CommitRecord } from '../../src/format/commit-record.js'
import { COMMIT_FLAG_ROLLBACK, HEADER_SIZE, KIND_VALUE, RECORD_OVERHEAD } from '../../src/format/constants.js'
import { encodeHeader, newHeader } from '../../src/format/header.js'
import { encodeBranch, encodeLeaf, type ChildPointer, type StoredValue, type ValueRef } from '../../src/format/node-codec.js'
import { beginRecord, endRecord } from '../../src/format/record.js'
import { skipTarget } from '../../src/txn/commit-log.js'

const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8')

export interface CommitSpec {
  root?: ChildPointer
  height?: number
  /** override the root's count / bytes */
  count?: number
  treeBytes?: number
  /** override the automatic skip pointer */
  skipOffset?: number
  rollbackOf?: number
  version?: number
  prevOffset?: number
}

export class FileBuilder {
  readonly w = new ByteWriter(4096)
  readonly seed: number
  /** offset and record of each commit, oldest first */
  readonly commits: { offset: number; commit: CommitRecord }[] = []
  /** start of the records of the commit being built (its syncedUpTo: one fsync per commit) */
  private pendingStart: number

  constructor() {
    const salt = new Uint8Array(16).map((_, i) => i * 7 + 1)
    this.w.bytes(encodeHeader(newHeader(salt, 1_700_000_000_000)))
    this.seed = saltSeed(salt)
    this.pendingStart = HEADER_SIZE
    this.commit({})
  }

  get pos(): number {
    return this.w.pos
  }

  value(bytes: Uint8Array): ValueRef {
    const start = beginRecord(this.w, KIND_VALUE)
    this.w.bytes(bytes)
    const crc = endRecord(this.w, start)
    return { offset: start, crc, length: bytes.length }
  }

  /** A leaf of string keys; a value is a string (inline) or a ValueRef. */
  leaf(entries: [string, string | ValueRef][]): ChildPointer {
    const keys = entries.map(([k]) => enc(k))
    const values: StoredValue[] = entries.map(([, v]) => (typeof v === 'string' ? enc(v) : v))
    const start = this.w.pos
    const crc = encodeLeaf(this.w, keys, values)
    let bytes = this.w.pos - start
    for (const v of values) if (!(v instanceof Uint8Array)) bytes += RECORD_OVERHEAD + v.length
    return { offset: start, crc, count: entries.length, bytes }
  }

  branch(height: number, separators: string[], children: ChildPointer[]): ChildPointer {
    const start = this.w.pos
    const crc = encodeBranch(this.w, height, separators.map(enc), children)
    const len = this.w.pos - start
    return {
      offset: start,
      crc,
      count: children.reduce((n, c) => n + c.count, 0),
      bytes: len + children.reduce((n, c) => n + c.bytes, 0),
    }
  }

  commit(spec: CommitSpec): number {
    const prev = this.commits[this.commits.length - 1]
    const version = spec.version ?? (prev === undefined ? 0 : prev.commit.version + 1)
    const target = skipTarget(version)
    let skip = 0
    if (version > 0) for (const c of this.commits) if (c.commit.version <= target) skip = c.offset
    const root = spec.root
    const c: CommitRecord = {
      version,
      time: 1_700_000_000_000 + version,
      rootOffset: root?.offset ?? 0,
      rootCrc: root?.crc ?? 0,
      height: root === undefined ? 0 : (spec.height ?? 1),
      flags: spec.rollbackOf !== undefined ? COMMIT_FLAG_ROLLBACK : 0,
      count: spec.count ?? root?.count ?? 0,
      treeBytes: spec.treeBytes ?? root?.bytes ?? 0,
      prevOffset: spec.prevOffset ?? prev?.offset ?? 0,
      skipOffset: spec.skipOffset ?? skip,
      syncedUpTo: this.pendingStart,
      sourceVersion: spec.rollbackOf ?? 0,
    }
    const offset = this.w.pos
    encodeCommit(this.w, c, this.seed)
    this.commits.push({ offset, commit: c })
    this.pendingStart = this.w.pos
    return offset
  }

  bytes(): Uint8Array {
    return this.w.result().slice()
  }
}
