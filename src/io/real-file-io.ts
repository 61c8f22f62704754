/**
 * FileIO over the synchronous `fs` API. Errors are the errno errors `fs` throws (ENOENT,
 * ENOSPC, EIO, EFBIG...), passed through unchanged: the engine maps them to CambiumError.
 * Layer: io (imports node:fs, ./lock.js and ./sync-thread.js only).
 */

import * as fs from 'node:fs'
import type { FileHandle, FileIO, OpenMode, ReadHelper, SyncHelper, WriterLock } from './file-io.js'
import { acquireWriterLock } from './lock.js'
import { SyncThread } from './sync-thread.js'
import { ReadThread } from './read-thread.js'

/** fs flags per mode. 'wx+' is O_CREAT|O_EXCL|O_RDWR: creation fails with EEXIST, atomically. */
const FLAGS: Record<OpenMode, string> = { r: 'r', rw: 'r+', create: 'wx+' }

/**
 * Node treats a null or negative position as "the current file position", which would silently
 * read or write in the wrong place; positional I/O here only ever uses explicit offsets.
 */
function checkPosition(position: number): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new RangeError(`file position must be a non-negative safe integer, got ${position}`)
  }
}

function badFileDescriptor(syscall: string, path: string): Error {
  return Object.assign(new Error(`EBADF: bad file descriptor (handle closed), ${syscall} '${path}'`), {
    code: 'EBADF',
    errno: -9,
    syscall,
    path,
  })
}

/** A helper thread, or null if one cannot be started (the caller then does without). */
function startThread<T>(make: () => T): T | null {
  try {
    return make()
  } catch {
    return null
  }
}

class RealFileHandle implements FileHandle {
  /** -1 once closed: closing twice must not close an unrelated descriptor that reused the number. */
  private fd: number
  private readonly path: string
  private readonly readOnly: boolean
  /** made by the first syncHelper() call; null if its thread could not be started */
  private helper: SyncThread | null | undefined
  /** made by the first readHelper() call; null if its thread could not be started */
  private reader: ReadThread | null | undefined

  constructor(fd: number, path: string, readOnly: boolean) {
    this.fd = fd
    this.path = path
    this.readOnly = readOnly
  }

  private open(syscall: string): number {
    if (this.fd < 0) throw badFileDescriptor(syscall, this.path)
    return this.fd
  }

  read(buf: Uint8Array, position: number): number {
    checkPosition(position)
    const fd = this.open('read')
    let done = 0
    while (done < buf.length) {
      const n = fs.readSync(fd, buf, done, buf.length - done, position + done)
      if (n === 0) break
      done += n
    }
    return done
  }

  write(buf: Uint8Array, position: number): void {
    checkPosition(position)
    const fd = this.open('write')
    if (this.readOnly) throw badFileDescriptor('write', this.path)
    let done = 0
    while (done < buf.length) {
      done += fs.writeSync(fd, buf, done, buf.length - done, position + done)
    }
  }

  sync(): void {
    fs.fdatasyncSync(this.open('fdatasync'))
  }

  /** On libuv's thread pool, which runs beside the JavaScript thread. */
  syncAsync(): Promise<void> {
    const fd = this.open('fdatasync')
    return new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())))
  }

  syncHelper(): SyncHelper | undefined {
    const fd = this.open('fdatasync')
    if (this.helper === undefined) this.helper = startThread(() => new SyncThread(fd))
    return this.helper ?? undefined
  }

  readHelper(): ReadHelper | undefined {
    const fd = this.open('read')
    if (this.reader === undefined) this.reader = startThread(() => new ReadThread(fd))
    return this.reader ?? undefined
  }

  /** Before the descriptor goes: an fdatasync still running on it would otherwise run on
   *  whatever file reuses the number (and a read ahead would read it). */
  private stopHelper(): void {
    this.helper?.stop()
    this.helper = null
    this.reader?.stop()
    this.reader = null
  }

  truncate(length: number): void {
    checkPosition(length)
    const fd = this.open('ftruncate')
    if (this.readOnly) throw badFileDescriptor('ftruncate', this.path)
    fs.ftruncateSync(fd, length)
  }

  size(): number {
    return fs.fstatSync(this.open('fstat')).size
  }

  close(): void {
    if (this.fd < 0) return
    this.stopHelper()
    const fd = this.fd
    this.fd = -1
    fs.closeSync(fd)
  }

  /** On libuv's thread pool; a failure is ignored (the file's data no longer matters). */
  closeSoon(): void {
    if (this.fd < 0) return
    this.stopHelper()
    const fd = this.fd
    this.fd = -1
    fs.close(fd, () => {})
  }
}

export const realFileIO: FileIO = {
  native: true,

  open(path: string, mode: OpenMode): FileHandle {
    const fd = fs.openSync(path, FLAGS[mode])
    return new RealFileHandle(fd, path, mode === 'r')
  },

  exists(path: string): boolean {
    return fs.existsSync(path)
  },

  rename(from: string, to: string): void {
    fs.renameSync(from, to)
  },

  unlink(path: string): void {
    fs.unlinkSync(path)
  },

  syncDir(dir: string): void {
    // Linux allows fsync on a directory opened read-only; it makes entries created, renamed
    // or removed in it durable.
    const fd = fs.openSync(dir, 'r')
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  },

  lock(path: string): WriterLock {
    return acquireWriterLock(path)
  },

  fileId(path: string): string {
    // bigint: inode numbers can exceed 2^53 on some file systems (e.g. XFS, btrfs).
    const st = fs.statSync(path, { bigint: true })
    return `${st.dev}:${st.ino}`
  },

  freeSpace(dir: string): number {
    const st = fs.statfsSync(dir)
    return st.bavail * st.bsize
  },
}
