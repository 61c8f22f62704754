/**
 * The chain of commit records (FORMAT.md §6): from the newest valid commit back along the
 * prev links. Checks each record (salted CRC and field rules), that versions strictly
 * decrease and times never increase going back, that every skip pointer names the newest
 * commit at or below its target, and that a rollback restores its source's tree.
 */
import { readU32 } from '../format/bytes.js'
import { crc32 } from '../format/checksum.js'
import { decodeCommit, looksLikeCommit, type CommitRecord } from '../format/commit-record.js'
import {
  COMMIT_BODY_SIZE,
  COMMIT_FLAG_ROLLBACK,
  COMMIT_FLAGS_KNOWN_V1,
  COMMIT_RECORD_SIZE,
  HEADER_SIZE,
  RECORD_HEADER_SIZE,
} from '../format/constants.js'
import { skipTarget } from '../txn/commit-log.js'
import type { FileReader } from './reader.js'
import { describeError, type Reporter } from './report.js'

export interface ChainEntry {
  offset: number
  commit: CommitRecord
}

export interface Chain {
  /** newest first */
  entries: ChainEntry[]
  /** false when a prev link could not be followed to the first commit */
  complete: boolean
}

/** Why the bytes at `offset` are not a valid commit record (the first rule that fails). */
export function whyNotCommit(b: Uint8Array, seed: number, offset: number): string {
  if (b.length < COMMIT_RECORD_SIZE) return 'commit record cut short by the end of the file'
  if (!looksLikeCommit(b, 0)) {
    return `no commit record framing here (length ${readU32(b, 0)}, kind ${b[4]}, flags ${b[5]})`
  }
  const crc = crc32(b.subarray(0, RECORD_HEADER_SIZE + COMMIT_BODY_SIZE), seed)
  if (crc !== readU32(b, RECORD_HEADER_SIZE + COMMIT_BODY_SIZE)) return 'commit record checksum mismatch (salted CRC)'
  const body = b.subarray(RECORD_HEADER_SIZE)
  const u64 = (at: number): number => readU32(body, at) + readU32(body, at + 4) * 0x100000000
  for (let at = 0; at < COMMIT_BODY_SIZE; at += 8) {
    if (at === 24) continue // rootCrc, height, reserved, flags
    if (readU32(body, at + 4) > 0x1fffff) return `commit field at body offset ${at} is above 2^53`
  }
  if (body[29] !== 0) return 'commit reserved byte is not zero'
  const flags = body[30]! | (body[31]! << 8)
  if ((flags & ~COMMIT_FLAGS_KNOWN_V1) !== 0) return `commit has unknown flags ${flags}`
  const root = u64(16)
  const prev = u64(48)
  const skip = u64(56)
  const synced = u64(64)
  if (root >= offset) return `commit root pointer points forward (to ${root})`
  if (prev >= offset) return `commit prev pointer points forward (to ${prev})`
  if (skip > prev) return `commit skip pointer (${skip}) is above its prev pointer (${prev})`
  if (synced > offset) return `commit syncedUpTo (${synced}) is past the record`
  const height = body[28]!
  if ((root === 0) !== (height === 0)) return `commit root ${root} does not match height ${height}`
  if (root === 0 && u64(32) !== 0) return 'commit has no root but a non-zero count'
  return 'commit record fails its checks'
}

/** Reads the commit record at `offset`, or returns why it is not one. */
export function readCommit(reader: FileReader, offset: number, end: number, seed: number): CommitRecord | string {
  if (offset < HEADER_SIZE || offset + COMMIT_RECORD_SIZE > end) return `commit pointer to ${offset} lies outside the data [${HEADER_SIZE}, ${end})`
  try {
    const b = reader.read(offset, COMMIT_RECORD_SIZE)
    return decodeCommit(b, 0, seed, offset) ?? whyNotCommit(b, seed, offset)
  } catch (e) {
    return `read failed: ${describeError(e)}`
  }
}

export function walkChain(reader: FileReader, seed: number, head: ChainEntry, end: number, rep: Reporter): Chain {
  const entries: ChainEntry[] = [head]
  let complete = true
  let cur = head
  while (cur.commit.prevOffset !== 0) {
    const off = cur.commit.prevOffset
    const c = readCommit(reader, off, end, seed)
    if (typeof c === 'string') {
      rep.error('commit', `${c} (the previous commit of version ${cur.commit.version}, at ${cur.offset}); older versions cannot be reached`, off, cur.commit.version)
      complete = false
      break
    }
    if (c.version >= cur.commit.version) {
      rep.error('commit', `versions do not decrease along prev links: version ${c.version} at ${off} precedes version ${cur.commit.version} at ${cur.offset}`, off, c.version)
    }
    if (c.time > cur.commit.time) {
      rep.error('commit', `commit time goes backwards: version ${c.version} at ${off} is later (${iso(c.time)}) than version ${cur.commit.version} (${iso(cur.commit.time)})`, cur.offset, cur.commit.version)
    }
    cur = { offset: off, commit: c }
    entries.push(cur)
  }
  checkLinks(reader, seed, entries, complete, end, rep)
  return { entries, complete }
}

function iso(t: number): string {
  const d = new Date(t)
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString()
}

/** Skip pointers and rollbacks, given the chain (newest first). */
function checkLinks(reader: FileReader, seed: number, entries: ChainEntry[], complete: boolean, end: number, rep: Reporter): void {
  const byOffset = new Map<number, ChainEntry>()
  for (const e of entries) byOffset.set(e.offset, e)
  // Oldest first, for "newest commit with version <= t" by binary search.
  const asc = entries.slice().reverse()
  const sorted = asc.every((e, i) => i === 0 || asc[i - 1]!.commit.version < e.commit.version)
  const byVersion = new Map<number, ChainEntry>()
  for (const e of entries) byVersion.set(e.commit.version, e)

  for (const e of entries) {
    const c = e.commit
    const v = c.version
    // Skip pointer.
    if (v > 0 && complete && sorted) {
      const target = skipTarget(v)
      const want = newestAtOrBelow(asc, Math.min(target, v - 1))
      const wantOffset = want?.offset ?? 0
      if (c.skipOffset !== wantOffset) {
        const named = byOffset.get(c.skipOffset)
        rep.error(
          'commit',
          `skip pointer of version ${v} names ${c.skipOffset === 0 ? 'nothing' : `offset ${c.skipOffset}${named ? ` (version ${named.commit.version})` : ''}`}; ` +
            `it must name the newest commit at or below version ${target}: ${want ? `version ${want.commit.version} at ${want.offset}` : 'none'}`,
          e.offset,
          v,
        )
      }
    } else if (c.skipOffset !== 0 && !byOffset.has(c.skipOffset)) {
      const s = readCommit(reader, c.skipOffset, end, seed)
      if (typeof s === 'string') rep.error('commit', `skip pointer of version ${v} (at ${e.offset}): ${s}`, c.skipOffset, v)
      else if (s.version > skipTarget(v) || s.version >= v) {
        rep.error('commit', `skip pointer of version ${v} names version ${s.version}, above its target ${skipTarget(v)}`, e.offset, v)
      }
    } else if (c.skipOffset !== 0) {
      const s = byOffset.get(c.skipOffset)!
      if (s.commit.version >= v || (v > 0 && s.commit.version > skipTarget(v))) {
        rep.error('commit', `skip pointer of version ${v} names version ${s.commit.version}, above its target ${skipTarget(v)}`, e.offset, v)
      }
    }
    if (c.syncedUpTo < HEADER_SIZE) rep.error('commit', `syncedUpTo ${c.syncedUpTo} lies inside the file header`, e.offset, v)
    // Rollbacks.
    const rollback = (c.flags & COMMIT_FLAG_ROLLBACK) !== 0
    if (!rollback && c.sourceVersion !== 0) {
      rep.error('commit', `commit of version ${v} is not a rollback but names source version ${c.sourceVersion}`, e.offset, v)
    }
    if (rollback) {
      if (c.sourceVersion >= v) {
        rep.error('commit', `rollback of version ${v} names source version ${c.sourceVersion}, which is not older`, e.offset, v)
        continue
      }
      const src = byVersion.get(c.sourceVersion)
      if (src === undefined) continue // compaction may have dropped it
      const s = src.commit
      if (s.rootOffset !== c.rootOffset || s.rootCrc !== c.rootCrc || s.height !== c.height || s.count !== c.count || s.treeBytes !== c.treeBytes) {
        rep.error(
          'commit',
          `rollback of version ${v} to version ${c.sourceVersion} does not restore its tree (root ${c.rootOffset} vs ${s.rootOffset}, ` +
            `height ${c.height} vs ${s.height}, count ${c.count} vs ${s.count}, treeBytes ${c.treeBytes} vs ${s.treeBytes})`,
          e.offset,
          v,
        )
      }
    }
  }
}

function newestAtOrBelow(asc: ChainEntry[], t: number): ChainEntry | undefined {
  let lo = 0
  let hi = asc.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (asc[mid]!.commit.version <= t) lo = mid + 1
    else hi = mid
  }
  return lo === 0 ? undefined : asc[lo - 1]
}
