/**
 * fdatasync on a worker thread that a synchronous caller polls through shared memory: a
 * writer committing in a tight loop never lets the event loop turn, so libuv's callbacks
 * would never tell it a background fsync finished. The worker is started on first use,
 * is unref'd (it never keeps the process alive) and exits when stopped.
 * Layer: io (imports node:worker_threads and node:util only).
 */
import { getSystemErrorName } from 'node:util'
import { Worker } from 'node:worker_threads'
import type { SyncHelper } from './file-io.js'

/** Shared Int32Array slots. */
const STATE = 0
const FD = 1
/** 0, or the failed fdatasync's (negative) errno */
const ERRNO = 2
/** 1 once the worker's code runs; 2 once the parent saw it exit ('exit' event) */
const LIFE = 3
const ALIVE = 1
const GONE = 2

/** States: the worker waits while IDLE or DONE, syncs on REQUESTED, exits on STOP. */
const IDLE = 0
const REQUESTED = 1
const DONE = 2
const STOP = 3

const WORKER = `
const { workerData } = require('node:worker_threads')
const fs = require('node:fs')
const s = new Int32Array(workerData)
Atomics.store(s, ${LIFE}, ${ALIVE})
Atomics.notify(s, ${STATE})
for (;;) {
  const st = Atomics.load(s, ${STATE})
  if (st === ${STOP}) break
  if (st !== ${REQUESTED}) { Atomics.wait(s, ${STATE}, st); continue }
  let errno = 0
  try { fs.fdatasyncSync(s[${FD}]) } catch (e) { errno = typeof e.errno === 'number' && e.errno < 0 ? e.errno : -5 }
  Atomics.store(s, ${ERRNO}, errno)
  Atomics.store(s, ${STATE}, ${DONE})
  Atomics.notify(s, ${STATE})
}
`

/** A wait this long for one fdatasync means the worker is gone: fail rather than hang. */
const WAIT_LIMIT_MS = 10 * 60 * 1000
/** A worker not running this long after it was created never will (it failed to start: a
 *  writer blocked in a loop never turns the event loop that would report that). A worker
 *  starts in ~30-100 ms here, under load in seconds. */
const START_LIMIT_MS = 30_000

export class SyncThread implements SyncHelper {
  private readonly shared = new Int32Array(new SharedArrayBuffer(16))
  private readonly worker: Worker
  private readonly created = Date.now()
  private stopped = false

  /** `source` and `startLimitMs`: for tests (a worker that fails to start or dies). */
  constructor(
    fd: number,
    source = WORKER,
    private readonly startLimitMs = START_LIMIT_MS,
  ) {
    this.shared[FD] = fd
    this.worker = new Worker(source, {
      eval: true,
      workerData: this.shared.buffer,
      // None of the parent's flags: this code needs none, and some break it (--input-type=module
      // compiles eval'd code as an ES module; test/process/worker-flags.test.ts).
      execArgv: [],
    })
    this.worker.on('error', () => {})
    // Seen only when the event loop turns: a writer that awaits between commits learns of it
    // at its next wait; one blocked in a loop relies on the start and wait limits.
    this.worker.on('exit', () => {
      Atomics.store(this.shared, LIFE, GONE)
    })
    this.worker.unref()
  }

  start(): void {
    if (this.running) throw new Error('SyncThread.start: an fdatasync is already running')
    Atomics.store(this.shared, ERRNO, 0)
    Atomics.store(this.shared, STATE, REQUESTED)
    Atomics.notify(this.shared, STATE)
  }

  get running(): boolean {
    return Atomics.load(this.shared, STATE) === REQUESTED
  }

  get gone(): boolean {
    const life = Atomics.load(this.shared, LIFE)
    if (life === GONE) return !this.stopped
    return life !== ALIVE && Date.now() > this.created + this.startLimitMs
  }

  finish(): Error | undefined {
    const deadline = Date.now() + WAIT_LIMIT_MS
    while (this.running) {
      if (this.gone) return Object.assign(new Error(`the sync thread is gone (it stopped, or did not start within ${this.startLimitMs} ms)`), { code: 'ESRCH' })
      if (Date.now() > deadline) return Object.assign(new Error('fdatasync on the sync thread did not finish'), { code: 'ETIMEDOUT' })
      Atomics.wait(this.shared, STATE, REQUESTED, Atomics.load(this.shared, LIFE) === ALIVE ? 1000 : 50)
    }
    const errno = Atomics.load(this.shared, ERRNO)
    Atomics.store(this.shared, STATE, IDLE)
    if (errno === 0) return undefined
    const code = getSystemErrorName(errno)
    return Object.assign(new Error(`${code}: fdatasync failed on the sync thread`), { code, errno, syscall: 'fdatasync' })
  }

  stop(): void {
    this.finish()
    this.stopped = true
    Atomics.store(this.shared, STATE, STOP)
    Atomics.notify(this.shared, STATE)
  }
}
