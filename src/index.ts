/**
 * cambium: an embedded key-value store in one append-only file. Every commit appends the
 * B+tree nodes it changed and a commit record; every version stays readable.
 * This module holds the public API only.
 */
import { realFileIO } from './io/real-file-io.js'
import { Database } from './db/database.js'
import type { EncodingName } from './db/encoding.js'
import { openFile } from './db/open-file.js'
import { resolveOptions, type OpenOptions } from './db/options.js'

/** What a stored key or value decodes to under an encoding. */
export type Decoded<E extends EncodingName> = E extends 'utf8' ? string : E extends 'json' ? any : Buffer

/** Opens (by default creating) the database file at `path`. */
export function open<KE extends EncodingName = 'binary', VE extends EncodingName = 'binary'>(
  path: string,
  options?: OpenOptions<KE, VE>,
): Database<Decoded<KE>, Decoded<VE>> {
  const o = resolveOptions(path, options)
  const io = o.fileIO ?? realFileIO
  const f = openFile(io, path, o.readOnly, o.create)
  return new Database<Decoded<KE>, Decoded<VE>>(path, io, f, o)
}

export { Database, type BatchOp, type RecoveryInfo, type CompactionStatus } from './db/database.js'
export type { CompactOptions, CompactProgress, CompactResult, KeepPolicy } from './db/compaction.js'
export { Snapshot } from './db/snapshot.js'
export { Transaction } from './db/transaction.js'
export type { CommitInfo, HistoryOptions } from './db/history.js'
export type { RangeOptions } from './db/range-options.js'
export type { OpenOptions, Durability, AutoCompactOptions } from './db/options.js'
export type { EncodingName } from './db/encoding.js'
export { CambiumError, isCambiumError, type ErrorCode } from './errors.js'
export type { FileIO, FileHandle, OpenMode, WriterLock } from './io/file-io.js'
export { MAX_KEY_SIZE, MAX_VALUE_SIZE, FORMAT_READ_VERSION, FORMAT_WRITE_VERSION } from './format/constants.js'
