/**
 * The one synchronous file interface the engine uses. The engine never imports `fs`:
 * the real implementation (real-file-io.ts) wraps `fs.*Sync`, and tests plug in a
 * simulated file system that can crash, tear writes and fail with ENOSPC/EIO/EFBIG.
 *
 * Contract: errors thrown are Node-style errors with an errno `code` (ENOSPC, EIO, ENOENT...);
 * the engine maps them to CambiumError. Positions and lengths are byte offsets (safe integers).
 */

export interface FileHandle {
  /** Reads up to buf.length bytes at `position`; returns the count (short only at end of file). */
  read(buf: Uint8Array, position: number): number
  /** Writes all of buf at `position`, or throws (a failed write may have written a prefix). */
  write(buf: Uint8Array, position: number): void
  /** fdatasync: everything written before it is durable when it returns. */
  sync(): void
  /** fdatasync on another thread (optional): resolves once everything written before the
   *  call is durable, rejects with the errno error; the caller keeps running meanwhile. */
  syncAsync?(): Promise<void>
  /** The file's sync helper (optional; made on first call, the same one after): fdatasync on
   *  another thread that a synchronous caller can poll. undefined if none can be had. */
  syncHelper?(): SyncHelper | undefined
  /** The file's read helper (optional; made on first call, the same one after): reads on
   *  another thread ahead of a synchronous reader. undefined if none can be had. */
  readHelper?(): ReadHelper | undefined
  truncate(length: number): void
  size(): number
  close(): void
  /** Closes on another thread (optional), for a file whose data no longer matters (one a
   *  compaction replaced): closing the last descriptor of a deleted file frees its page
   *  cache, ~0.5 s for a 1 GB file. */
  closeSoon?(): void
}

/**
 * fdatasync on another thread, one at a time, observable without the event loop turning (a
 * writer committing in a loop never lets it). The file must not be closed while one runs:
 * its handle's close() waits for it.
 */
export interface SyncHelper {
  /** Starts an fdatasync: everything written before this call is durable once it succeeds.
   *  Only when none is running. */
  start(): void
  /** Whether the last one started is still running. */
  readonly running: boolean
  /** Waits for the last one started, if any; returns its errno error if it failed (the kernel
   *  reports a writeback error to one fsync only: this may be the only report of it). */
  finish(): Error | undefined
  /** True once the helper's thread is gone (stopped or never started): finish() then
   *  reports that, not an fdatasync's result, and the caller syncs on its own thread. */
  readonly gone?: boolean
}

/**
 * Reads on another thread, one batch at a time, into memory a synchronous reader takes the
 * bytes from; the reader never waits for it. The file must not be closed while a batch runs:
 * its handle's close() stops the helper first.
 */
export interface ReadHelper {
  /** How many take() calls have returned bytes. */
  readonly taken: number
  /** Starts reading lengths[i] bytes at offsets[i] (as many as one batch holds), in place of
   *  the batch before, whose bytes are then gone. */
  post(offsets: readonly number[], lengths: readonly number[]): void
  /** The bytes the current batch has read at `offset`: a view valid until the next post();
   *  undefined if the batch has no such offset, has not read it yet, or the read failed or
   *  found nothing (the caller then reads it itself). */
  take(offset: number): Uint8Array | undefined
}

export type OpenMode =
  /** existing file, read only */
  | 'r'
  /** existing file, read and write */
  | 'rw'
  /** new file, read and write; fails with EEXIST if it exists */
  | 'create'

/** An exclusive, process-level writer lock on a database file. */
export interface WriterLock {
  release(): void
}

export interface FileIO {
  /** True for node:fs itself: another thread may then open the same paths directly. */
  readonly native?: boolean
  open(path: string, mode: OpenMode): FileHandle
  exists(path: string): boolean
  rename(from: string, to: string): void
  unlink(path: string): void
  /** Makes renames/creations/unlinks in `dir` durable (fsync of the directory). */
  syncDir(dir: string): void
  /**
   * Takes the single-writer lock for `path`, or throws a CambiumError ERR_LOCKED naming
   * the holder. A lock left by a process that died is reclaimed.
   */
  lock(path: string): WriterLock
  /** Identity of the file now at `path` (changes when another file is renamed over it). */
  fileId(path: string): string
  /** Bytes free for this user in the file system holding `dir`, if known. */
  freeSpace?(dir: string): number
}
