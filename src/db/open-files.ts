/**
 * The files a Database has open. Compaction replaces the current one; a replaced one stays
 * open while snapshots or iterators made on it are alive, so they keep reading it, and is
 * closed when the last of them is collected.
 */
import type { FileHandle, FileIO } from '../io/file-io.js'
import { Store } from '../store/store.js'
import { CommitLog } from '../txn/commit-log.js'

export interface FileState {
  handle: FileHandle
  store: Store
  log: CommitLog
  seed: number
  fileId: string
  /** file size when compaction wrote it (header baseSize), 0 if created empty */
  baseSize: number
  /** snapshots and iterators made on this file that may still be alive */
  users: number
  retired: boolean
}

/**
 * Counts live users of each file without holding them: a FinalizationRegistry (unlike a
 * WeakRef, which keeps its target alive until the current job ends) adds nothing to a
 * synchronous loop of scans.
 */
const usersGone = new FinalizationRegistry<FileState>((s) => {
  s.users--
  if (s.retired && s.users === 0) closeQuietly(s)
})

function closeQuietly(s: FileState): void {
  try {
    if (s.handle.closeSoon !== undefined) s.handle.closeSoon()
    else s.handle.close()
  } catch {
    // Closing a read handle of a replaced file: nothing to do about a failure.
  }
}

export class OpenFiles {
  private state: FileState | undefined
  private retired: FileState[] = []

  constructor(
    private readonly io: FileIO,
    private readonly path: string,
    private readonly cacheSize: number,
  ) {}

  get current(): FileState {
    if (this.state === undefined) throw new Error('no file open')
    return this.state
  }

  /** Makes `handle` (its last commit ending at `end`) the current file; the previous one is retired. */
  replace(handle: FileHandle, seed: number, baseSize: number, end: number): void {
    if (this.state !== undefined) this.retire(this.state)
    const store = new Store(handle, this.path, this.cacheSize, end, end)
    let fileId = ''
    try {
      fileId = this.io.fileId(this.path)
    } catch {
      // The file vanished (renamed by a compaction?): refresh() will look again.
    }
    this.state = { handle, store, log: new CommitLog(store, seed), seed, fileId, baseSize, users: 0, retired: false }
  }

  /** Records a snapshot or iterator reading the current file. */
  track(user: object): void {
    const s = this.current
    s.users++
    usersGone.register(user, s)
  }

  private retire(s: FileState): void {
    s.retired = true
    this.retired = this.retired.filter((r) => r.users > 0)
    if (s.users === 0) closeQuietly(s)
    else this.retired.push(s)
  }

  closeAll(): void {
    for (const s of this.retired) if (s.users > 0) closeQuietly(s)
    this.current.handle.close()
  }
}
