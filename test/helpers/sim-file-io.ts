/**
 * SimFileIO: an in-memory FileIO with SQLite test6-style crash semantics (reliability.md §4),
 * deterministic given a seed.
 *
 * Model:
 * - Each file (inode) has a durable image and a live image. Writes and truncates update the
 *   live image at once (reads see them) and join one global ordered list of pending ops.
 *   `sync()` moves that file's pending ops into its durable image.
 * - Creating, renaming and unlinking change the live name map at once and add a pending
 *   directory op. `syncDir(dir)` makes durable every pending directory op up to the last one
 *   touching `dir`: metadata is journaled in order, as on ext4, so directory ops only ever
 *   become durable as a prefix (also at a crash).
 * - A failed sync (fault plan) follows Linux "fsyncgate": each of the file's pending ops
 *   becomes durable or is lost (at random), and the next sync() reports success anyway.
 * - `crash(mode, rng)` returns a new SimFileIO holding the post-crash state (modes: sim-disk.ts);
 *   this one is dead.
 * - Every write, sync, truncate, rename, unlink, syncDir and open('create') is one op; ops are
 *   numbered from 1, so a crash-point sweep runs crashAt = 1..(ops of a clean run).
 */

import { posix } from 'node:path'
import { CambiumError } from '../../src/errors.js'
import type { FileHandle, FileIO, OpenMode, WriterLock } from '../../src/io/file-io.js'
import { Rng } from './rng.js'
import { applyDir, applyTo, Bytes, crashImage, errnoError, Inode, type CrashMode, type PendingOp } from './sim-disk.js'

export { CRASH_MODES, errnoError, type CrashMode } from './sim-disk.js'

/** Thrown by every operation of a crashed SimFileIO (and by the op chosen by `crashAt`). */
export class SimCrash extends Error {
  override readonly name = 'SimCrash'
  /** The op number at which the crash happened. */
  readonly op: number
  constructor(op: number) {
    super(`simulated crash (at op ${op})`)
    this.op = op
  }
}

export type InjectedErrno = 'ENOSPC' | 'EIO' | 'EFBIG'

export interface FaultPlan {
  /** Crash before performing op N: it and every later call throw SimCrash. */
  crashAt?: number
  /** Ops failAt .. failAt+failCount-1 throw `failWith` instead of running. */
  failAt?: number
  failWith?: InjectedErrno
  /** How many consecutive ops fail from failAt (default 1; Infinity models a disk that stays full). */
  failCount?: number
  /** The Nth call (from 1) of FileHandle.sync() fails with EIO (fsyncgate semantics above). */
  failSyncAt?: number
  /** A failing write first writes a random prefix of its data (default true). */
  partialWrite?: boolean
}

export interface SimOptions {
  /** What freeSpace() reports (default: unlimited). */
  freeBytes?: number
  /** Seeds the sim's own choices (torn prefix of a failing write, fate of ops at a failed sync). */
  seed?: number
  plan?: FaultPlan
  /** Sector size for torn and garbage crashes (512: the classic disk sector). */
  sectorSize?: number
  /**
   * With true, a 'garbage' crash scrambles only the bytes a dropped write covered; by default it
   * scrambles whole sectors, so synced bytes sharing a sector with a dropped write can be lost.
   */
  powersafeOverwrite?: boolean
  /** Called at the start of every counted op, before faults are injected. */
  onOp?: (op: number, description: string) => void
}

const norm = (p: string): string => posix.resolve('/', p)

function checkOffset(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${n}`)
}

export class SimFileIO implements FileIO {
  private live = new Map<string, Inode>()
  private durableNames = new Map<string, Inode>()
  private pending: PendingOp[] = []
  private nextIno = 1
  private opCount = 0
  private syncCount = 0
  private crashed = false
  private plan: FaultPlan
  private readonly rng: Rng
  private readonly options: SimOptions
  private readonly locks = new Set<string>()
  private handles = 0

  constructor(options: SimOptions = {}) {
    this.options = options
    this.plan = options.plan ?? {}
    this.rng = new Rng(options.seed ?? 1)
  }

  /** A quiescent sim (nothing pending) whose files are `image` (path -> bytes). */
  static fromImage(image: ReadonlyMap<string, Uint8Array>, options: SimOptions = {}): SimFileIO {
    const sim = new SimFileIO(options)
    for (const [p, data] of image) sim.setFileBytes(p, data)
    return sim
  }

  /** Ops started so far (the number of the last op). */
  get ops(): number {
    return this.opCount
  }
  get isCrashed(): boolean {
    return this.crashed
  }
  get pendingCount(): number {
    return this.pending.length
  }
  /** Handles opened and not yet closed (leak checks). */
  get openHandleCount(): number {
    return this.handles
  }
  /** Replaces the fault plan; op numbers keep counting (arm relative to `ops`). */
  setPlan(plan: FaultPlan): void {
    this.plan = plan
  }

  private checkAlive(): void {
    if (this.crashed) throw new SimCrash(this.opCount)
  }

  /** Counts an op and injects faults; returns the errno it must fail with, if any. */
  private beginOp(description: string): InjectedErrno | undefined {
    this.checkAlive()
    const n = ++this.opCount
    this.options.onOp?.(n, description)
    const { crashAt, failAt, failWith = 'EIO', failCount = 1 } = this.plan
    if (crashAt === n) {
      this.crashed = true
      throw new SimCrash(n)
    }
    return failAt !== undefined && n >= failAt && n < failAt + failCount ? failWith : undefined
  }

  private inodeAt(path: string, syscall: string): Inode {
    const inode = this.live.get(norm(path))
    if (inode === undefined) throw errnoError('ENOENT', syscall, path)
    return inode
  }

  open(path: string, mode: OpenMode): FileHandle {
    let inode: Inode
    if (mode === 'create') {
      const fail = this.beginOp(`create ${path}`)
      if (fail !== undefined) throw errnoError(fail, 'open', path)
      const key = norm(path)
      if (this.live.has(key)) throw errnoError('EEXIST', 'open', path)
      inode = new Inode(this.nextIno++, new Bytes(), new Bytes())
      this.live.set(key, inode)
      this.pending.push({ kind: 'dir', dirs: [posix.dirname(key)], changes: [[key, inode]] })
    } else {
      this.checkAlive()
      inode = this.inodeAt(path, 'open')
    }
    this.handles++
    return this.makeHandle(inode, path, mode === 'r')
  }

  private makeHandle(inode: Inode, path: string, readOnly: boolean): FileHandle {
    let closed = false
    const usable = (syscall: string, writes: boolean): void => {
      this.checkAlive()
      if (closed || (writes && readOnly)) throw errnoError('EBADF', syscall, path)
    }
    return {
      read: (buf, position) => {
        checkOffset(position, 'file position')
        usable('read', false)
        return inode.live.read(buf, position)
      },
      write: (buf, position) => {
        checkOffset(position, 'file position')
        usable('write', true)
        const fail = this.beginOp(`write ${path} @${position} +${buf.length}`)
        if (fail !== undefined) {
          if (this.plan.partialWrite !== false && buf.length > 0) {
            const k = this.rng.int(buf.length)
            if (k > 0) this.recordWrite(inode, position, buf.subarray(0, k))
          }
          throw errnoError(fail, 'write', path)
        }
        this.recordWrite(inode, position, buf)
      },
      sync: () => {
        usable('fdatasync', false)
        this.syncFile(inode, path)
      },
      truncate: (length) => {
        checkOffset(length, 'file length')
        usable('ftruncate', true)
        const fail = this.beginOp(`truncate ${path} ${length}`)
        if (fail !== undefined) throw errnoError(fail, 'ftruncate', path)
        inode.live.truncate(length)
        this.pending.push({ kind: 'truncate', inode, len: length })
      },
      size: () => {
        usable('fstat', false)
        return inode.live.len
      },
      close: () => {
        if (closed) return
        closed = true
        this.handles--
      },
    }
  }

  private recordWrite(inode: Inode, pos: number, buf: Uint8Array): void {
    // A copy: the caller may reuse buf (Buffer#slice would alias it, so not buf.slice()).
    const data = new Uint8Array(buf)
    inode.live.write(pos, data)
    this.pending.push({ kind: 'write', inode, pos, data })
  }

  private syncFile(inode: Inode, path: string): void {
    const fail = this.beginOp(`sync ${path}`)
    const syncFails = ++this.syncCount === this.plan.failSyncAt
    const mine = this.pending.filter((op) => op.kind !== 'dir' && op.inode === inode)
    if (mine.length > 0) this.pending = this.pending.filter((op) => op.kind === 'dir' || op.inode !== inode)
    if (fail !== undefined || syncFails) {
      for (const op of mine) if (this.rng.bool()) applyTo(inode.durable, op)
      throw errnoError(fail ?? 'EIO', 'fdatasync', path)
    }
    for (const op of mine) applyTo(inode.durable, op)
  }

  exists(path: string): boolean {
    this.checkAlive()
    return this.live.has(norm(path))
  }

  rename(from: string, to: string): void {
    const fail = this.beginOp(`rename ${from} -> ${to}`)
    if (fail !== undefined) throw errnoError(fail, 'rename', from)
    const inode = this.inodeAt(from, 'rename')
    const [f, t] = [norm(from), norm(to)]
    if (f === t) return
    this.live.set(t, inode)
    this.live.delete(f)
    this.pending.push({ kind: 'dir', dirs: [posix.dirname(f), posix.dirname(t)], changes: [[t, inode], [f, undefined]] })
  }

  unlink(path: string): void {
    const fail = this.beginOp(`unlink ${path}`)
    if (fail !== undefined) throw errnoError(fail, 'unlink', path)
    this.inodeAt(path, 'unlink')
    const key = norm(path)
    this.live.delete(key)
    this.pending.push({ kind: 'dir', dirs: [posix.dirname(key)], changes: [[key, undefined]] })
  }

  syncDir(dir: string): void {
    const fail = this.beginOp(`syncDir ${dir}`)
    if (fail !== undefined) throw errnoError(fail, 'fsync', dir)
    const d = norm(dir)
    let last = -1
    this.pending.forEach((op, i) => {
      if (op.kind === 'dir' && op.dirs.includes(d)) last = i
    })
    const rest: PendingOp[] = []
    this.pending.forEach((op, i) => {
      if (op.kind === 'dir' && i <= last) applyDir(this.durableNames, op)
      else rest.push(op)
    })
    this.pending = rest
  }

  lock(path: string): WriterLock {
    this.checkAlive()
    const key = norm(path)
    if (this.locks.has(key)) {
      throw new CambiumError(
        'ERR_LOCKED',
        `${path} is locked by this process (simulated) (another writer). Open with { readOnly: true } to read, or close the other writer.`,
        { path },
      )
    }
    this.locks.add(key)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.locks.delete(key)
      },
    }
  }

  fileId(path: string): string {
    this.checkAlive()
    return `sim:${this.inodeAt(path, 'stat').ino}`
  }

  /** Free bytes reported to the engine: `options.freeBytes` (default: unlimited). Not an op. */
  freeSpace(_dir: string): number {
    this.checkAlive()
    return this.options.freeBytes ?? Number.MAX_SAFE_INTEGER
  }

  /**
   * Simulates power loss now: returns a new SimFileIO (no fault plan, op counter at 0, no locks)
   * holding what survives under `mode`; this sim is dead from here on. Calling crash() again on
   * the dead sim starts from the same state, so one crash point can be tried in every mode.
   */
  crash(mode: CrashMode, rngOrSeed: Rng | number): SimFileIO {
    this.crashed = true
    const rng = typeof rngOrSeed === 'number' ? new Rng(rngOrSeed) : rngOrSeed
    const image = crashImage(this.durableNames, this.pending, mode, rng, {
      sectorSize: this.options.sectorSize ?? 512,
      powersafeOverwrite: this.options.powersafeOverwrite === true,
    })
    return SimFileIO.fromImage(image, {
      seed: rng.int(0x100000000),
      sectorSize: this.options.sectorSize,
      powersafeOverwrite: this.options.powersafeOverwrite,
    })
  }

  /** A deep copy (pending ops included) with a fresh op counter and `options` (default: this sim's, plan included); no locks or handles. */
  clone(options: SimOptions = this.options): SimFileIO {
    const next = new SimFileIO(options)
    const map = new Map<Inode, Inode>()
    const cp = (inode: Inode): Inode => {
      let c = map.get(inode)
      if (c === undefined) {
        c = new Inode(inode.ino, new Bytes(inode.live.bytes()), new Bytes(inode.durable.bytes()))
        map.set(inode, c)
      }
      return c
    }
    for (const [k, v] of this.live) next.live.set(k, cp(v))
    for (const [k, v] of this.durableNames) next.durableNames.set(k, cp(v))
    next.pending = this.pending.map((op) =>
      op.kind === 'dir'
        ? { ...op, changes: op.changes.map(([name, ino]): [string, Inode | undefined] => [name, ino && cp(ino)]) }
        : { ...op, inode: cp(op.inode) },
    )
    next.nextIno = this.nextIno
    return next
  }

  // Test helpers below act like an external edit of the disk: they change the live and durable
  // images alike, are not counted as ops, and work on a crashed sim too.

  /** Durable names and durable bytes: what a 'drop' crash now would leave. */
  snapshotImage(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>()
    for (const [name, inode] of [...this.durableNames].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.set(name, inode.durable.bytes())
    }
    return out
  }

  /** Live file names (what exists() sees), sorted. */
  listFiles(): string[] {
    return [...this.live.keys()].sort()
  }

  /** Current content as reads see it (durable plus pending). */
  fileBytes(path: string): Uint8Array {
    return this.inodeAt(path, 'read').live.bytes()
  }

  /** Creates or replaces `path` with `bytes`, durably (name included); drops its pending ops. */
  setFileBytes(path: string, bytes: Uint8Array): void {
    const key = norm(path)
    let inode = this.live.get(key)
    if (inode === undefined) {
      inode = new Inode(this.nextIno++, new Bytes(), new Bytes())
      this.live.set(key, inode)
    }
    inode.live = new Bytes(bytes)
    inode.durable = new Bytes(bytes)
    this.durableNames.set(key, inode)
    this.pending = this.pending.filter((op) => op.kind === 'dir' || op.inode !== inode)
  }

  bitFlip(path: string, byteOffset: number, bit: number): void {
    const inode = this.inodeAt(path, 'write')
    if (byteOffset >= inode.live.len) throw new RangeError(`offset ${byteOffset} is past the end of ${path}`)
    if (!Number.isInteger(bit) || bit < 0 || bit > 7) throw new RangeError(`bit must be 0..7, got ${bit}`)
    for (const img of [inode.live, inode.durable]) {
      if (byteOffset < img.len) img.buf[byteOffset] = (img.buf[byteOffset] as number) ^ (1 << bit)
    }
  }

  corruptBytes(path: string, offset: number, bytes: Uint8Array): void {
    checkOffset(offset, 'offset')
    const inode = this.inodeAt(path, 'write')
    inode.live.write(offset, bytes)
    inode.durable.write(offset, bytes)
  }

  truncateFile(path: string, len: number): void {
    checkOffset(len, 'length')
    const inode = this.inodeAt(path, 'ftruncate')
    inode.live.truncate(len)
    inode.durable.truncate(len)
  }
}
