/**
 * Opening a database file: the writer lock, atomic creation, the header checks and
 * recovery of the latest valid commit (FORMAT.md §7).
 */
import { randomBytes } from 'node:crypto'
import { dirname } from 'node:path'
import { CambiumError } from '../errors.js'
import { ByteWriter } from '../format/bytes.js'
import { encodeCommit, saltSeed } from '../format/commit-record.js'
import {
  COMMIT_RECORD_SIZE,
  FORMAT_READ_VERSION,
  FORMAT_WRITE_VERSION,
  HEADER_SALT_SIZE,
  HEADER_SIZE,
} from '../format/constants.js'
import { decodeHeader, encodeHeader, isHeader, newHeader, type Header } from '../format/header.js'
import type { FileHandle, FileIO, WriterLock } from '../io/file-io.js'
import { ioError } from '../store/io-errors.js'
import { findLastCommit } from '../store/recover.js'
import type { Head } from '../txn/commit.js'

export interface OpenedFile {
  handle: FileHandle
  header: Header
  seed: number
  head: Head
  /** bytes past the last valid commit: cut off by a writer, ignored by a reader */
  tornBytes: number
  lock: WriterLock | undefined
}

/** The bytes of a new, empty database: the header and the commit of version 0. */
export function newFileImage(createdAt: number): Uint8Array {
  const header = newHeader(randomBytes(HEADER_SALT_SIZE), createdAt)
  const w = new ByteWriter(HEADER_SIZE + COMMIT_RECORD_SIZE)
  w.bytes(encodeHeader(header))
  encodeCommit(
    w,
    { version: 0, time: createdAt, rootOffset: 0, rootCrc: 0, height: 0, flags: 0, count: 0, treeBytes: 0, prevOffset: 0, skipOffset: 0, syncedUpTo: HEADER_SIZE, sourceVersion: 0 },
    saltSeed(header.salt),
  )
  return w.result()
}

/** Writes the new file beside its final name, syncs it, then renames it into place, so
 *  a crash never leaves a half-made database at `path`. Caller holds the writer lock. */
function createFile(io: FileIO, path: string): void {
  const tmp = path + '.creating'
  if (io.exists(tmp)) io.unlink(tmp)
  const h = io.open(tmp, 'create')
  try {
    try {
      h.write(newFileImage(Date.now()), 0)
      h.sync()
    } finally {
      h.close()
    }
    io.rename(tmp, path)
  } catch (e) {
    try {
      if (io.exists(tmp)) io.unlink(tmp)
    } catch {
      // The original error matters more; a later create removes the leftover.
    }
    throw e
  }
  io.syncDir(dirname(path))
}

function checkHeader(path: string, b: Uint8Array, size: number, readOnly: boolean): Header {
  const h = decodeHeader(b)
  if (!isHeader(h)) {
    switch (h.kind) {
      case 'short':
        throw new CambiumError(
          'ERR_NOT_A_DATABASE',
          `${path}: not a cambium database (${size} bytes, shorter than the ${HEADER_SIZE}-byte header); check the path, or delete the file if it is a database whose creation never finished`,
          { path },
        )
      case 'magic':
        throw new CambiumError('ERR_NOT_A_DATABASE', `${path}: not a cambium database (bad magic bytes); check the path: cambium files start with 89 43 41 4D 42 ("\\x89CAMB")`, { path })
      case 'crc':
        throw new CambiumError('ERR_CORRUPT', `${path}: the file header fails its checksum, so the file is damaged; restore it from a backup (\`cambium check\` reports the damage)`, { path, offset: 0 })
    }
  }
  if (h.readVersion > FORMAT_READ_VERSION || h.flags !== 0) {
    throw new CambiumError(
      'ERR_UNSUPPORTED_VERSION',
      `${path}: file format version ${h.readVersion}${h.flags ? ` with feature flags ${h.flags}` : ''}; this build of cambium reads version ${FORMAT_READ_VERSION}: upgrade cambium`,
      { path },
    )
  }
  if (!readOnly && h.writeVersion > FORMAT_WRITE_VERSION) {
    throw new CambiumError(
      'ERR_UNSUPPORTED_VERSION',
      `${path}: file format write version ${h.writeVersion}; this build writes version ${FORMAT_WRITE_VERSION}: upgrade cambium, or open with { readOnly: true }`,
      { path },
    )
  }
  if (!h.reservedZero) throw new CambiumError('ERR_CORRUPT', `${path}: reserved header bytes are not zero`, { path, offset: 0 })
  return h
}

export function openFile(io: FileIO, path: string, readOnly: boolean, create: boolean): OpenedFile {
  let lock: WriterLock | undefined
  try {
    lock = readOnly ? undefined : io.lock(path)
  } catch (e) {
    throw ioError(e, 'taking the writer lock', path)
  }
  let handle: FileHandle | undefined
  try {
    try {
      if (!io.exists(path)) {
        if (!create) {
          throw new CambiumError('ERR_NOT_FOUND', `${path}: no such database file${readOnly ? '' : '; pass { create: true } to create it'}`, { path })
        }
        createFile(io, path)
      }
      handle = io.open(path, readOnly ? 'r' : 'rw')
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') throw new CambiumError('ERR_NOT_FOUND', `${path}: no such database file`, { path, cause: e })
      throw ioError(e, 'open', path)
    }
    const size = handle.size()
    const hb = new Uint8Array(HEADER_SIZE)
    const got = handle.read(hb, 0)
    const header = checkHeader(path, hb.subarray(0, got), size, readOnly)
    const seed = saltSeed(header.salt)
    const found = findLastCommit(handle, seed, size)
    if (found === undefined) {
      throw new CambiumError(
        'ERR_CORRUPT',
        `${path}: no valid commit record in its ${size} bytes, so the file is damaged; restore it from a backup (\`cambium check\` reports the damage)`,
        { path },
      )
    }
    const end = found.offset + COMMIT_RECORD_SIZE
    if (!readOnly) {
      try {
        // A compaction that did not finish (the process died) left its file: it never became
        // the database, and the next compaction starts afresh.
        if (io.exists(path + '.compact')) io.unlink(path + '.compact')
        if (size > end) handle.truncate(end)
        // Make the tail we found durable before anything is appended after it, and the
        // file's directory entry too: an earlier creation or compaction may have renamed
        // it into place and failed before its directory fsync.
        handle.sync()
        io.syncDir(dirname(path))
      } catch (e) {
        throw ioError(e, 'recovery of the file tail', path)
      }
    }
    return { handle, header, seed, head: { commit: found.commit, offset: found.offset }, tornBytes: size - end, lock }
  } catch (e) {
    try {
      handle?.close()
    } finally {
      lock?.release()
    }
    throw ioError(e, 'open', path)
  }
}
