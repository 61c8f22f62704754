/**
 * Finding the latest valid commit (FORMAT.md §7). Tail first: the last COMMIT_RECORD_SIZE
 * bytes of a cleanly written file are its newest commit. Past a torn tail, scan back for
 * commit framing. A candidate counts only if
 *   1. its salted CRC and field rules hold (decodeCommit),
 *   2. walking record framings forward from its `syncedUpTo` lands exactly on it, with
 *      every record on the way passing its CRC (so everything it depends on that was not
 *      yet durable when it was written did reach the disk, and a commit look-alike inside
 *      a value record, which the walk steps over, can never be taken for a commit),
 *   3. its root record passes its CRC.
 */
import { readU32 } from '../format/bytes.js'
import { crc32 } from '../format/checksum.js'
import { decodeCommit, type CommitRecord } from '../format/commit-record.js'
import {
  COMMIT_BODY_SIZE,
  COMMIT_RECORD_SIZE,
  HEADER_SIZE,
  KIND_BRANCH,
  KIND_COMMIT,
  KIND_LEAF,
  KIND_VALUE,
  RECORD_HEADER_SIZE,
  RECORD_OVERHEAD,
} from '../format/constants.js'
import type { FileHandle } from '../io/file-io.js'

export interface FoundCommit {
  commit: CommitRecord
  offset: number
}

/** The framing every commit record starts with: bodyLength 80, kind 4, flags 0. */
const COMMIT_FRAMING = Buffer.from([COMMIT_BODY_SIZE, 0, 0, 0, KIND_COMMIT, 0])

/** Backward scan reads this much at a time. */
const SCAN_CHUNK = 64 << 10
/** Regions up to this size are verified from one read; larger ones record by record. */
const REGION_READ_MAX = 32 << 20

function readAt(h: FileHandle, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length)
  const got = h.read(buf, offset)
  return got === length ? buf : buf.subarray(0, got)
}

/** Checks the record at `at` in buf (header already known to fit); returns its end or -1. */
function checkRecordIn(buf: Uint8Array, at: number, seed: number): number {
  const len = readU32(buf, at)
  const kind = buf[at + 4]!
  const end = at + len + RECORD_OVERHEAD
  if (end > buf.length || buf[at + 5] !== 0) return -1
  if (kind !== KIND_LEAF && kind !== KIND_BRANCH && kind !== KIND_VALUE && kind !== KIND_COMMIT) return -1
  const crc = crc32(buf.subarray(at, at + RECORD_HEADER_SIZE + len), kind === KIND_COMMIT ? seed : 0)
  return crc === readU32(buf, at + RECORD_HEADER_SIZE + len) ? end : -1
}

/** Rule 2: records from `from` tile [from, to) exactly and all verify. */
export function verifyRegion(h: FileHandle, from: number, to: number, seed: number): boolean {
  if (from === to) return true
  if (from > to || from < HEADER_SIZE) return false
  if (to - from <= REGION_READ_MAX) {
    const buf = readAt(h, from, to - from)
    if (buf.length !== to - from) return false
    let pos = 0
    while (pos < buf.length) {
      if (pos + RECORD_OVERHEAD > buf.length) return false
      pos = checkRecordIn(buf, pos, seed)
      if (pos < 0) return false
    }
    return pos === buf.length
  }
  let pos = from
  while (pos < to) {
    if (pos + RECORD_OVERHEAD > to) return false
    const head = readAt(h, pos, RECORD_HEADER_SIZE)
    if (head.length < RECORD_HEADER_SIZE) return false
    const total = readU32(head, 0) + RECORD_OVERHEAD
    if (pos + total > to) return false
    const rec = readAt(h, pos, total)
    if (checkRecordIn(rec, 0, seed) !== total) return false
    pos += total
  }
  return pos === to
}

/** Rule 3: the root record verifies, lies before the commit, and its CRC is the one the commit names. */
function rootOk(h: FileHandle, c: CommitRecord, offset: number): boolean {
  if (c.rootOffset === 0) return true
  const head = readAt(h, c.rootOffset, RECORD_HEADER_SIZE)
  if (head.length < RECORD_HEADER_SIZE) return false
  const len = readU32(head, 0)
  const kind = head[4]!
  if (kind !== KIND_LEAF && kind !== KIND_BRANCH) return false
  if (c.rootOffset + len + RECORD_OVERHEAD > offset) return false
  const rec = readAt(h, c.rootOffset, len + RECORD_OVERHEAD)
  if (checkRecordIn(rec, 0, 0) !== rec.length || rec.length !== len + RECORD_OVERHEAD) return false
  return readU32(rec, RECORD_HEADER_SIZE + len) === c.rootCrc
}

/** A commit record at `offset`, if it passes rules 1-3. */
export function validCommitAt(h: FileHandle, offset: number, seed: number): CommitRecord | undefined {
  if (offset < HEADER_SIZE) return undefined
  const buf = readAt(h, offset, COMMIT_RECORD_SIZE)
  const c = decodeCommit(buf, 0, seed, offset)
  if (c === undefined) return undefined
  if (c.syncedUpTo < HEADER_SIZE) return undefined
  if (!verifyRegion(h, c.syncedUpTo, offset, seed)) return undefined
  if (!rootOk(h, c, offset)) return undefined
  return c
}

/**
 * The newest valid commit whose record ends at or before `limit`, searching no lower than
 * `floor` (a reader that already trusts a commit passes its end). Undefined if none.
 */
export function findLastCommit(h: FileHandle, seed: number, limit: number, floor = HEADER_SIZE): FoundCommit | undefined {
  const tail = limit - COMMIT_RECORD_SIZE
  if (tail < floor) return undefined
  const c = validCommitAt(h, tail, seed)
  if (c !== undefined) return { commit: c, offset: tail }
  // Torn tail: scan back. `hi` is one past the last candidate start still to test.
  let hi = tail
  while (hi > floor) {
    const lo = Math.max(floor, hi - SCAN_CHUNK)
    // Read enough to see the framing of a candidate starting anywhere in [lo, hi).
    const raw = readAt(h, lo, hi - lo + RECORD_HEADER_SIZE)
    const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.length)
    // Native search for the 6 framing bytes (a byte-by-byte loop made an 8 MiB torn tail cost 0.5 s).
    for (let i = buf.lastIndexOf(COMMIT_FRAMING, hi - lo - 1); i >= 0; i = i === 0 ? -1 : buf.lastIndexOf(COMMIT_FRAMING, i - 1)) {
      const found = validCommitAt(h, lo + i, seed)
      if (found !== undefined) return { commit: found, offset: lo + i }
    }
    hi = lo
  }
  return undefined
}
