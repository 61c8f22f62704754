/**
 * Opening a file for the checker and reading its header without the engine's open(): no
 * lock, no recovery side effects, and a damaged header is described rather than thrown
 * whenever the rest of the file can still be read.
 */
import { CambiumError } from '../errors.js'
import { readU32 } from '../format/bytes.js'
import { crc32 } from '../format/checksum.js'
import { decodeCommit, looksLikeCommit, saltSeed, type CommitRecord } from '../format/commit-record.js'
import {
  COMMIT_RECORD_SIZE,
  FORMAT_READ_VERSION,
  FORMAT_WRITE_VERSION,
  HEADER_BASE_SIZE_OFFSET,
  HEADER_CREATED_OFFSET,
  HEADER_CRC_OFFSET,
  HEADER_FLAGS_OFFSET,
  HEADER_MAGIC_SIZE,
  HEADER_READ_VERSION_OFFSET,
  HEADER_RESERVED_OFFSET,
  HEADER_RESERVED_SIZE,
  HEADER_SALT_OFFSET,
  HEADER_SALT_SIZE,
  HEADER_SIZE,
  HEADER_WRITE_VERSION_OFFSET,
  MAGIC,
  RECORD_HEADER_SIZE,
} from '../format/constants.js'
import type { FileHandle, FileIO } from '../io/file-io.js'
import { realFileIO } from '../io/real-file-io.js'
import { ioError } from '../store/io-errors.js'
import { verifyRegion } from '../store/recover.js'
import { kindName, type FileReader } from './reader.js'
import { hex32 } from './report.js'

/** Opens `path` read-only; ERR_NOT_FOUND if it does not exist. */
export function openForCheck(path: string, fileIO: FileIO | undefined): FileHandle {
  const io = fileIO ?? realFileIO
  try {
    if (!io.exists(path)) throw new CambiumError('ERR_NOT_FOUND', `${path}: no such database file`, { path })
    return io.open(path, 'r')
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') throw new CambiumError('ERR_NOT_FOUND', `${path}: no such database file`, { path, cause: e })
    throw ioError(e, 'open', path)
  }
}

export interface HeaderInfo {
  readVersion: number
  writeVersion: number
  flags: number
  salt: Uint8Array
  createdAt: number
  /** file size when compaction wrote the file; 0 for a file created empty */
  baseSize: number
  seed: number
}

export interface HeaderReport {
  header: HeaderInfo | undefined
  /** problems that make the rest of the file unreadable: code and message */
  fatal?: { code: 'ERR_NOT_A_DATABASE' | 'ERR_UNSUPPORTED_VERSION'; message: string }
  /** damage that still lets the rest be read (the salt is taken as stored) */
  damage: string[]
  /** a write version above this build's: readable, not writable */
  notes: string[]
}

/** The header checks of FORMAT.md §7 step 2, in its order; a bad CRC is damage, not the end. */
export function readHeader(b: Uint8Array, size: number): HeaderReport {
  if (b.length < HEADER_SIZE) {
    return { header: undefined, damage: [], notes: [], fatal: { code: 'ERR_NOT_A_DATABASE', message: `not a cambium database (${size} bytes, shorter than the ${HEADER_SIZE}-byte header)` } }
  }
  for (let i = 0; i < HEADER_MAGIC_SIZE; i++) {
    if (b[i] !== MAGIC[i]) return { header: undefined, damage: [], notes: [], fatal: { code: 'ERR_NOT_A_DATABASE', message: 'not a cambium database (bad magic bytes)' } }
  }
  const u16 = (at: number): number => b[at]! | (b[at + 1]! << 8)
  const u64 = (at: number): number => readU32(b, at) + readU32(b, at + 4) * 0x100000000
  const salt = b.slice(HEADER_SALT_OFFSET, HEADER_SALT_OFFSET + HEADER_SALT_SIZE)
  const header: HeaderInfo = {
    readVersion: u16(HEADER_READ_VERSION_OFFSET),
    writeVersion: u16(HEADER_WRITE_VERSION_OFFSET),
    flags: readU32(b, HEADER_FLAGS_OFFSET),
    salt,
    createdAt: u64(HEADER_CREATED_OFFSET),
    baseSize: u64(HEADER_BASE_SIZE_OFFSET),
    seed: saltSeed(salt),
  }
  const damage: string[] = []
  const notes: string[] = []
  const stored = readU32(b, HEADER_CRC_OFFSET)
  const crc = crc32(b.subarray(0, HEADER_CRC_OFFSET))
  if (crc !== stored) {
    // No field can be trusted: go on with the stored salt (commits verify against it, so a
    // damaged salt shows up as "no valid commit"), and version 1 rules.
    damage.push(`file header checksum mismatch (stored ${hex32(stored)}, computed ${hex32(crc)}); its fields cannot be trusted`)
    return { header, damage, notes }
  }
  if (header.readVersion > FORMAT_READ_VERSION || header.flags !== 0) {
    return {
      header,
      damage,
      notes,
      fatal: {
        code: 'ERR_UNSUPPORTED_VERSION',
        message: `file format version ${header.readVersion}${header.flags ? ` with feature flags ${header.flags}` : ''}; this build reads version ${FORMAT_READ_VERSION}`,
      },
    }
  }
  if (header.writeVersion > FORMAT_WRITE_VERSION) {
    notes.push(`file format write version ${header.writeVersion}: this build can read the file but not write to it`)
  }
  for (let i = 0; i < HEADER_RESERVED_SIZE; i++) {
    if (b[HEADER_RESERVED_OFFSET + i] !== 0) {
      damage.push(`reserved header byte ${HEADER_RESERVED_OFFSET + i} is not zero`)
      break
    }
  }
  return { header, damage, notes }
}

/** Why the valid-looking commit at `offset` was not taken by recovery (FORMAT.md §7 rule 5). */
export function whyNotTaken(reader: FileReader, c: CommitRecord, offset: number, seed: number): string {
  if (c.syncedUpTo < HEADER_SIZE) return `its syncedUpTo (${c.syncedUpTo}) lies inside the header`
  if (!verifyRegion(reader.handle, c.syncedUpTo, offset, seed)) {
    // Find the first record of [syncedUpTo, offset) that does not verify.
    let pos = c.syncedUpTo
    while (pos < offset) {
      const head = reader.read(pos, RECORD_HEADER_SIZE)
      if (head.length < RECORD_HEADER_SIZE) return `the file ends inside the record at ${pos}`
      const size = readU32(head, 0) + 10
      const kind = head[4]!
      if (pos + size > offset) return `the record at ${pos} (${kindName(kind)}, ${size} bytes) does not end before the commit record`
      if (!verifyRegion(reader.handle, pos, pos + size, seed)) return `the ${kindName(kind)} at ${pos} that it depends on is damaged or incomplete`
      pos += size
    }
    return `the records it depends on, from ${c.syncedUpTo}, do not tile up to it`
  }
  return `its root record at ${c.rootOffset} is damaged or is not the one it names`
}

export interface TailCommit {
  offset: number
  commit: CommitRecord
  reason: string
}

/** Intact-looking commit records in the torn tail [from, size): a crash that tore a commit,
 *  or damage that made recovery fall back to an older one. The newest by version, if any. */
export function newestCommitInTail(reader: FileReader, from: number, size: number, seed: number): TailCommit | undefined {
  const CHUNK = 64 << 10
  let best: TailCommit | undefined
  for (let lo = from; lo + COMMIT_RECORD_SIZE <= size; lo += CHUNK) {
    const buf = reader.read(lo, Math.min(CHUNK + COMMIT_RECORD_SIZE, size - lo))
    for (let i = 0; i < CHUNK && i + COMMIT_RECORD_SIZE <= buf.length; i++) {
      if (!looksLikeCommit(buf, i)) continue
      const c = decodeCommit(buf, i, seed, lo + i)
      if (c === undefined) continue
      if (best === undefined || c.version > best.commit.version) best = { offset: lo + i, commit: c, reason: '' }
    }
  }
  if (best !== undefined) best.reason = whyNotTaken(reader, best.commit, best.offset, seed)
  return best
}
