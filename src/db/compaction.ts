/**
 * Compaction (FORMAT.md §11): copies the versions to keep into `<path>.compact`, then makes
 * it the database with fsync, rename and directory fsync. A crash at any point leaves either
 * the complete old file or the complete new one; a leftover `.compact` is removed by the next
 * read-write open.
 *
 * Online (compactAsync): the copy runs on a worker thread (compact-thread.ts) when the file
 * layer is the real file system, else in steps between turns of the event loop; either way
 * the writer keeps committing. Each round then copies the commits made meanwhile (sharing
 * every unchanged node), and a short final round holds the writer's thread, right before the swap.
 */
import { dirname } from 'node:path'
import { CambiumError } from '../errors.js'
import type { FileIO } from '../io/file-io.js'
import { ioError } from '../store/io-errors.js'
import type { Store } from '../store/store.js'
import type { Head } from '../txn/commit.js'
import type { CommitLog } from '../txn/commit-log.js'
import { CompactThread, type ThreadSetup } from './compact-thread.js'
import { Compactor } from './compactor.js'

export type KeepPolicy = 'latest' | 'all' | { since: number | Date } | { every: number }

export interface CompactProgress {
  phase: 'copy' | 'catch-up' | 'final'
  versionsCopied: number
  nodesCopied: number
  bytesWritten: number
}

export interface CompactOptions {
  /** Versions to keep: 'latest' (default), 'all', { since: version | Date }, or { every: ms } (the last version of each time window). The latest version is always kept. */
  keep?: KeepPolicy
  onProgress?: (p: CompactProgress) => void
  /** compactAsync copying on the calling thread (a custom fileIO): milliseconds of copying
   *  between yields to the event loop (default 10). A worker thread's copy does not use it. */
  sliceMs?: number
}

export interface CompactResult {
  bytesBefore: number
  bytesAfter: number
  versionsKept: number
  firstVersion: number
  lastVersion: number
  /** wall-clock duration */
  ms: number
  /** catch-up rounds run for commits made during the copy */
  rounds: number
  /** the longest time the caller's thread was held without yielding (a slice or the final round) */
  longestPauseMs: number
  /** whether the copy ran on a worker thread (compactAsync on the real file system) */
  thread: boolean
}

/** Most catch-up rounds before the final round copies whatever remains without yielding
 *  (on a worker, rounds cost the writer nothing, so more are allowed). */
const MAX_ROUNDS = 8
const MAX_THREAD_ROUNDS = 16
/** A round copying fewer new commits than this goes straight to the final round. */
const SMALL_ROUND = 16
/** On a worker: a round copied within this many ms goes to the final round, the writer's only
 *  pause, which copies the commits made meanwhile, about as much work when the copy keeps up.
 *  (Counting commits would not do: a catch-up round's copies are dead bytes in the new file
 *  when later commits change them again, and small commits make many rounds.) */
const SHORT_THREAD_ROUND_MS = 50

type Keep = { kind: 'latest' } | { kind: 'all' } | { kind: 'sinceVersion'; v: number } | { kind: 'sinceTime'; t: number } | { kind: 'every'; ms: number }

export function parseKeep(k: unknown): Keep {
  if (k === undefined || k === 'latest') return { kind: 'latest' }
  if (k === 'all') return { kind: 'all' }
  if (typeof k === 'object' && k !== null) {
    const o = k as Record<string, unknown>
    if ('since' in o && Object.keys(o).length === 1) {
      const s = o['since']
      if (s instanceof Date && !Number.isNaN(s.getTime())) return { kind: 'sinceTime', t: s.getTime() }
      if (typeof s === 'number' && Number.isSafeInteger(s) && s >= 0) return { kind: 'sinceVersion', v: s }
    }
    if ('every' in o && Object.keys(o).length === 1) {
      const e = o['every']
      if (typeof e === 'number' && Number.isFinite(e) && e > 0) return { kind: 'every', ms: e }
    }
  }
  throw new TypeError("compact option 'keep' must be 'latest', 'all', { since: version | Date } or { every: milliseconds > 0 }")
}

/** Which of `heads` (ascending) to keep; the last one always. */
export function selectVersions(heads: readonly Head[], keep: Keep): Head[] {
  if (heads.length === 0) return []
  const last = heads[heads.length - 1]!
  let out: Head[]
  switch (keep.kind) {
    case 'latest':
      return [last]
    case 'all':
      return heads.slice()
    case 'sinceVersion':
      out = heads.filter((h) => h.commit.version >= keep.v)
      break
    case 'sinceTime':
      out = heads.filter((h) => h.commit.time >= keep.t)
      break
    case 'every':
      out = heads.filter((h, i) => i === heads.length - 1 || Math.floor(h.commit.time / keep.ms) !== Math.floor(heads[i + 1]!.commit.time / keep.ms))
      break
  }
  if (out[out.length - 1] !== last) out.push(last)
  return out
}

/** Commits with version > `above`, ascending, from `head` back. */
export function commitsAbove(log: CommitLog, head: Head, above: number): Head[] {
  const out: Head[] = []
  for (let h: Head | undefined = head; h !== undefined && h.commit.version > above; h = log.prev(h)) out.push(h)
  return out.reverse()
}

/** What a compaction needs from the database it runs on. */
export interface CompactionHost {
  readonly io: FileIO
  readonly path: string
  readonly store: Store
  readonly log: CommitLog
  readonly head: Head
  readonly createdAt: number
  /** Makes the finished file, just renamed to `path`, the database's. */
  adopt(c: Copier, head: Head): void
}

/** What copies: a Compactor on this thread, or a CompactThread driving one on a worker. */
export type Copier = Compactor | CompactThread

/** A worker for the copy, or undefined if none can be started here (the copy then runs on this thread). */
function startThread(setup: ThreadSetup): CompactThread | undefined {
  try {
    return new CompactThread(setup)
  } catch {
    return undefined
  }
}

export class CompactionRun {
  readonly tmpPath: string
  private readonly keep: Keep
  private readonly compactor: Copier
  private readonly started = performance.now()
  private readonly bytesBefore: number
  private lastQueued: number
  private rounds = 0
  longestPauseMs = 0
  private closed = false

  constructor(
    private readonly host: CompactionHost,
    private readonly opts: CompactOptions,
    /** copy on a worker thread (only where `host.io` is the real file system) */
    thread = false,
  ) {
    this.keep = parseKeep(opts.keep)
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new TypeError("compact option 'onProgress' must be a function")
    const { io, path, store, head } = host
    this.tmpPath = path + '.compact'
    this.bytesBefore = store.end
    // Refuse before writing anything when the new file cannot fit. Keeping only the latest
    // version needs about its tree's bytes; other policies at most the current file.
    const need = this.keep.kind === 'latest' ? head.commit.treeBytes + (1 << 20) : store.end
    const free = io.freeSpace?.(dirname(path))
    if (free !== undefined && free < need) {
      throw new CambiumError('ERR_NO_SPACE', `${path}: compaction needs about ${need} bytes free, the disk has ${free}; free space and retry`, { path })
    }
    try {
      if (io.exists(this.tmpPath)) io.unlink(this.tmpPath)
      this.compactor = (thread ? startThread({ io, path, tmpPath: this.tmpPath, createdAt: host.createdAt, end: () => host.store.end }) : undefined) ??
        new Compactor(io.open(this.tmpPath, 'create'), path, store, host.createdAt)
    } catch (e) {
      throw ioError(e, 'creating the compaction file', path)
    }
    try {
      this.enqueue(this.initialCommits())
    } catch (e) {
      this.abort()
      throw e
    }
    this.lastQueued = head.commit.version
    this.longestPauseMs = performance.now() - this.started
  }

  /** The commits a policy can keep, walking back only as far as it needs: commit times never
   *  decrease along the chain, so a time bound stops the walk too. */
  private initialCommits(): Head[] {
    const { log, head } = this.host
    const k = this.keep
    if (k.kind === 'latest') return [head]
    if (k.kind === 'sinceVersion') return k.v > head.commit.version ? [head] : commitsAbove(log, head, k.v - 1)
    const out: Head[] = []
    for (let h: Head | undefined = head; h !== undefined; h = log.prev(h)) {
      out.push(h)
      if (k.kind === 'sinceTime' && h.commit.time < k.t) break
    }
    return out.reverse()
  }

  /** With keep 'latest' a round's head is copied tree-only: only the final one gets a commit. */
  private enqueue(heads: Head[]): void {
    if (this.keep.kind === 'latest') this.compactor.enqueue(heads.slice(-1), false)
    else this.compactor.enqueue(selectVersions(heads, this.keep))
  }

  private progress(phase: CompactProgress['phase']): void {
    this.opts.onProgress?.({
      phase,
      versionsCopied: this.compactor.versionsCopied,
      nodesCopied: this.compactor.nodesCopied,
      bytesWritten: this.compactor.size,
    })
  }

  /** Queues the commits made since the last look; returns how many were new. */
  private catchUp(): number {
    const fresh = commitsAbove(this.host.log, this.host.head, this.lastQueued)
    if (fresh.length === 0) return 0
    this.enqueue(fresh)
    this.lastQueued = this.host.head.commit.version
    return fresh.length
  }

  /** Counts the thread as held from `t0` until now (the caller's synchronous start). */
  heldSince(t0: number): void {
    this.longestPauseMs = Math.max(this.longestPauseMs, performance.now() - t0)
  }

  /** Copies for up to `ms`; true when everything queued so far is copied and no further round is due. */
  step(ms: number): boolean {
    const t0 = performance.now()
    const done = this.compactor.step(t0 + ms)
    this.longestPauseMs = Math.max(this.longestPauseMs, performance.now() - t0)
    this.progress(this.rounds === 0 ? 'copy' : 'catch-up')
    if (!done) return false
    const c = this.compactor
    if (c instanceof CompactThread) {
      if (this.rounds >= MAX_THREAD_ROUNDS || c.lastRoundMs < SHORT_THREAD_ROUND_MS) return true
      if (this.catchUp() === 0) return true
    } else {
      if (this.rounds >= MAX_ROUNDS) return true
      const n = this.catchUp()
      if (n === 0 || n < SMALL_ROUND) return true
    }
    this.rounds++
    return false
  }

  /** Resolves when stepping again may make progress (compactAsync awaits it between steps). */
  wait(): Promise<void> {
    return this.compactor.wait()
  }

  /** Lets the periodic syncs run on another thread while the copy yields (compactAsync). */
  syncInBackground(): void {
    this.compactor.syncInBackground()
  }

  /** Waits for a background sync; later syncs run on this thread (call before finish()). */
  settle(): Promise<void> {
    return this.compactor.settle()
  }

  /** The final round and the swap, without yielding: no commit can land in between. */
  finish(): CompactResult {
    const t0 = performance.now()
    // Report first: a commit made from the callback is then still copied below.
    this.progress('final')
    this.catchUp()
    this.compactor.step(Infinity)
    if (this.keep.kind === 'latest') {
      // The head's tree is already copied (tree-only): this writes just its commit record.
      this.compactor.enqueue([this.host.head])
      this.compactor.step(Infinity)
    }
    const head = this.compactor.finish()
    if (head.commit.version !== this.host.head.commit.version) throw new Error('compaction did not reach the latest version')
    try {
      this.host.io.rename(this.tmpPath, this.host.path)
    } catch (e) {
      throw ioError(e, 'renaming the compacted file into place', this.host.path)
    }
    // From here the new file is the database: nothing to abort.
    this.closed = true
    this.host.adopt(this.compactor, head)
    this.longestPauseMs = Math.max(this.longestPauseMs, performance.now() - t0)
    const c = this.compactor.copied
    return {
      bytesBefore: this.bytesBefore,
      bytesAfter: this.compactor.end,
      versionsKept: c.length,
      firstVersion: c[0]!.version,
      lastVersion: c[c.length - 1]!.version,
      ms: performance.now() - this.started,
      rounds: this.rounds,
      longestPauseMs: this.longestPauseMs,
      thread: this.compactor instanceof CompactThread,
    }
  }

  /** Drops the unfinished file. */
  abort(): void {
    if (this.closed) return
    this.closed = true
    // Best effort: the error that made us abort is the one to report; a leftover file is
    // removed by the next compaction or read-write open.
    try {
      this.compactor.close()
    } catch {
      // ignored, see above
    }
    try {
      if (this.host.io.exists(this.tmpPath)) this.host.io.unlink(this.tmpPath)
    } catch {
      // ignored, see above
    }
  }
}
