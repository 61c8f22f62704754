/**
 * A compaction's copy on a worker thread (compact-worker.ts), for compactAsync on the real file
 * system: the writer's thread only queues the commits to copy and, for the final round, waits.
 * Sound because the worker reads the database file through its own descriptor and only below
 * the writer's `end` as of the queueing, where bytes are written (appends are not buffered)
 * and never rewritten.
 *
 * The shared control words: DONE (seq of the last message the worker finished), STOP (abort
 * asked), STARTED and EXITED (see compact-worker.ts), ROUND_MS (how long the last copy message
 * took, stored before its DONE).
 */
import { fileURLToPath } from 'node:url'
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads'
import { CambiumError, type ErrorCode } from '../errors.js'
import type { FileHandle, FileIO } from '../io/file-io.js'
import { ioError } from '../store/io-errors.js'
import type { Head } from '../txn/commit.js'
import type { CopiedCommit } from './compactor.js'

export const DONE = 0
export const STOP = 1
export const STARTED = 2
export const EXITED = 3
export const ROUND_MS = 4
const WORDS = 5

/** The worker's young generation: V8's default (tens of MiB) showed as ~35 MB more peak RSS
 *  during a compaction, at no gain in speed (W6-like runs: 336-361 MB against 306-317 MB). */
const WORKER_YOUNG_MB = 6
/** How long an abort waits for a running worker to close its files (it looks every ~20 ms). */
const ABORT_WAIT_MS = 2000
/** A blocked writer looks this often whether the worker still runs. */
const WAIT_SLICE_MS = 200

export type ToWorker =
  | { t: 'copy'; seq: number; heads: Head[]; record: boolean; end: number }
  | { t: 'finish'; seq: number }
  | { t: 'stop'; seq: number }

export interface ErrorData {
  message: string
  code?: string | undefined
  path?: string | undefined
  offset?: number | undefined
  cause?: { message: string; code?: string | undefined } | undefined
}

type FromWorker =
  | { t: 'progress'; versions: number; nodes: number; bytes: number }
  | { t: 'finished'; head: Head; end: number; seed: number; copied: CopiedCommit[] }
  | { t: 'error'; error: ErrorData }

/** The worker's module: the build's, also when this file runs from sources (under the test runner). */
export function compactWorkerPath(): string {
  const here = import.meta.url
  return fileURLToPath(here.endsWith('.ts') ? new URL('../../dist/db/compact-worker.js', here) : new URL('./compact-worker.js', here))
}

function rebuild(d: ErrorData): Error {
  const cause = d.cause === undefined ? undefined : Object.assign(new Error(d.cause.message), { code: d.cause.code })
  if (d.code === undefined) return new Error(`compaction worker: ${d.message}`, { cause })
  return new CambiumError(d.code as ErrorCode, d.message, { path: d.path, offset: d.offset, cause })
}

function unexpectedExit(path: string, code: number | undefined): CambiumError {
  return new CambiumError('ERR_IO', `compaction worker stopped unexpectedly${code === undefined ? '' : ` (exit code ${code})`}`, { path })
}

export interface ThreadSetup {
  io: FileIO
  path: string
  tmpPath: string
  createdAt: number
  /** the writer's end now: everything below it may be read */
  end: () => number
  /** another worker module (tests: one that ends at a given point) */
  workerPath?: string | undefined
}

/** Drives the worker; the same shape as Compactor, as CompactionRun uses it. */
export class CompactThread {
  private readonly control = new Int32Array(new SharedArrayBuffer(WORDS * 4))
  private readonly port: MessagePort
  private readonly worker: Worker
  private seq = 0
  private failure: Error | undefined
  private waiters: (() => void)[] = []
  private result: Extract<FromWorker, { t: 'finished' }> | undefined
  private out: FileHandle | undefined
  private stopped = false
  nodesCopied = 0
  size = 0
  private versions = 0

  constructor(private readonly s: ThreadSetup) {
    const { port1, port2 } = new MessageChannel()
    this.port = port1
    this.worker = new Worker(s.workerPath ?? compactWorkerPath(), {
      workerData: { path: s.path, tmpPath: s.tmpPath, createdAt: s.createdAt, control: this.control.buffer, port: port2 },
      transferList: [port2],
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB },
      // None of the parent's flags: the worker needs none, and some stop it from starting
      // (--input-type; test/process/worker-flags.test.ts).
      execArgv: [],
    })
    this.worker.on('error', (e) => {
      this.drain()
      this.failure ??= new CambiumError('ERR_IO', 'compaction worker failed', { path: s.path, cause: e })
      this.wake()
    })
    // A worker that reports an error and ends may have its 'exit' seen before the port's
    // 'message' (they are two channels; it happened under load): what it posted is read first.
    this.worker.on('exit', (code) => {
      this.drain()
      if (!this.stopped && this.result === undefined) this.failure ??= unexpectedExit(s.path, code)
      this.wake()
    })
    port1.on('message', (m: FromWorker) => this.onMessage(m))
  }

  private onMessage(m: FromWorker): void {
    if (m.t === 'progress') {
      this.versions = m.versions
      this.nodesCopied = m.nodes
      this.size = m.bytes
    } else if (m.t === 'finished') {
      this.result = m
      this.versions = m.copied.length
    } else {
      this.failure ??= rebuild(m.error)
    }
    this.wake()
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Takes the messages already in the port (also after the worker ended). */
  private drain(): void {
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) this.onMessage(m.message as FromWorker)
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure
  }

  /** How long the worker took to copy the last round it finished, in ms. */
  get lastRoundMs(): number {
    return Atomics.load(this.control, ROUND_MS)
  }

  get versionsCopied(): number {
    return this.versions
  }

  get copied(): readonly CopiedCommit[] {
    return this.result?.copied ?? []
  }

  enqueue(heads: readonly Head[], record = true): void {
    this.post({ t: 'copy', seq: ++this.seq, heads: heads.map((h) => ({ commit: h.commit, offset: h.offset })), record, end: this.s.end() })
  }

  private post(m: ToWorker): void {
    this.port.postMessage(m)
  }

  /** Whether everything queued is copied; with deadline Infinity, blocks until it is. */
  step(deadline: number): boolean {
    if (deadline === Infinity) this.waitFor(this.seq)
    this.check()
    return Atomics.load(this.control, DONE) >= this.seq
  }

  /** Blocks this thread (no event loop) until the worker has finished message `seq`. */
  private waitFor(seq: number): void {
    for (;;) {
      const done = Atomics.load(this.control, DONE)
      if (done >= seq) break
      this.drain()
      this.check()
      // The Worker's 'exit' event needs the event loop, which a blocked writer does not turn:
      // the worker's own EXITED word (set by its exit hook too) tells it here.
      if (Atomics.load(this.control, EXITED) === 1) {
        // Ended: what it posted before ending is in the port by now, and a DONE it stored
        // before EXITED is visible (a finished run ends this way too).
        this.drain()
        this.check()
        if (Atomics.load(this.control, DONE) >= seq) break
        throw unexpectedExit(this.s.path, undefined)
      }
      Atomics.wait(this.control, DONE, done, WAIT_SLICE_MS)
    }
    this.drain()
    this.check()
  }

  /** Resolves at the worker's next message (progress, a finished round, an error). */
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  syncInBackground(): void {
    // The worker's syncs already run off the writer's thread.
  }

  settle(): Promise<void> {
    return Promise.resolve()
  }

  /** The worker writes the header, fsyncs and closes the new file; it is opened here for the writer. */
  finish(): Head {
    this.post({ t: 'finish', seq: ++this.seq })
    this.waitFor(this.seq)
    const r = this.result
    if (r === undefined) throw new Error('compaction worker finished without a result')
    try {
      this.out = this.s.io.open(this.s.tmpPath, 'rw')
    } catch (e) {
      throw ioError(e, 'opening the compacted file', this.s.tmpPath)
    }
    this.port.close()
    return r.head
  }

  get handle(): FileHandle {
    if (this.out === undefined) throw new Error('compaction worker has not finished')
    return this.out
  }

  get seed(): number {
    return this.result!.seed
  }

  get end(): number {
    return this.result!.end
  }

  /** Stops the worker and waits (bounded) until it has closed its files: the caller then removes the new file. */
  close(): void {
    if (this.stopped) return
    this.stopped = true
    Atomics.store(this.control, STOP, 1)
    if (this.result === undefined) this.post({ t: 'stop', seq: ++this.seq })
    if (Atomics.load(this.control, STARTED) === 1) Atomics.wait(this.control, EXITED, 0, ABORT_WAIT_MS)
    this.port.close()
    this.worker.unref()
    this.out?.close()
    this.wake()
  }
}
