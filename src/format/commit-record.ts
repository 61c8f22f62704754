/**
 * The commit record (FORMAT.md §6): fixed size, salted CRC. A commit is the unit of
 * version: it names the root of the tree for its version and links to the previous commit.
 */
import { ByteReader, ByteWriter, DecodeError, readU32 } from './bytes.js'
import { crc32 } from './checksum.js'
import {
  COMMIT_BODY_SIZE,
  COMMIT_FLAGS_KNOWN_V1,
  COMMIT_RECORD_SIZE,
  KIND_COMMIT,
  RECORD_HEADER_SIZE,
} from './constants.js'
import { beginRecord, endRecord, recordCrcOk } from './record.js'

export interface CommitRecord {
  version: number
  time: number
  rootOffset: number
  rootCrc: number
  height: number
  flags: number
  count: number
  treeBytes: number
  prevOffset: number
  skipOffset: number
  syncedUpTo: number
  sourceVersion: number
}

export function saltSeed(salt: Uint8Array): number {
  return crc32(salt)
}

export function encodeCommit(w: ByteWriter, c: CommitRecord, seed: number): void {
  const start = beginRecord(w, KIND_COMMIT)
  w.u64(c.version)
  w.u64(c.time)
  w.u64(c.rootOffset)
  w.u32(c.rootCrc)
  w.u8(c.height)
  w.u8(0)
  w.u16(c.flags)
  w.u64(c.count)
  w.u64(c.treeBytes)
  w.u64(c.prevOffset)
  w.u64(c.skipOffset)
  w.u64(c.syncedUpTo)
  w.u64(c.sourceVersion)
  endRecord(w, start, seed)
}

/** Whether `b` at `at` starts with the framing of a commit record (the backward scan's probe). */
export function looksLikeCommit(b: Uint8Array, at: number): boolean {
  return at + RECORD_HEADER_SIZE <= b.length && b[at + 4] === KIND_COMMIT && b[at + 5] === 0 && readU32(b, at) === COMMIT_BODY_SIZE
}

/**
 * Decodes the commit record at `at` in `b` if its framing, salted CRC and field rules hold;
 * otherwise returns undefined (a torn or foreign record is not an error, just not a commit).
 * `offset` is the record's position in the file: pointers must lie behind it.
 */
export function decodeCommit(b: Uint8Array, at: number, seed: number, offset: number): CommitRecord | undefined {
  if (at + COMMIT_RECORD_SIZE > b.length || !looksLikeCommit(b, at)) return undefined
  if (!recordCrcOk(b, at, COMMIT_BODY_SIZE, seed)) return undefined
  try {
    const r = new ByteReader(b, at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + COMMIT_BODY_SIZE)
    const c: CommitRecord = {
      version: r.u64(),
      time: r.u64(),
      rootOffset: r.u64(),
      rootCrc: r.u32(),
      height: r.u8(),
      flags: (r.u8(), r.u16()),
      count: r.u64(),
      treeBytes: r.u64(),
      prevOffset: r.u64(),
      skipOffset: r.u64(),
      syncedUpTo: r.u64(),
      sourceVersion: r.u64(),
    }
    if (b[at + RECORD_HEADER_SIZE + 29] !== 0) return undefined
    if ((c.flags & ~COMMIT_FLAGS_KNOWN_V1) !== 0) return undefined
    if (c.rootOffset >= offset || c.prevOffset >= offset || c.skipOffset > c.prevOffset) return undefined
    if (c.syncedUpTo > offset) return undefined
    if ((c.rootOffset === 0) !== (c.height === 0) || (c.rootOffset === 0 && c.count !== 0)) return undefined
    return c
  } catch (e) {
    if (e instanceof DecodeError) return undefined
    throw e
  }
}

export function commitRecordBytes(c: CommitRecord, seed: number): Uint8Array {
  const w = new ByteWriter(COMMIT_RECORD_SIZE)
  encodeCommit(w, c, seed)
  return w.result()
}
