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

/** States: the worker waits while IDLE or DONE, syncs on REQUESTED, exits on STOP. */
const IDLE = 0
const REQUESTED = 1
const DONE = 2
const STOP = 3

const WORKER = `
const { workerData } = require('node:worker_threads')
const fs = require('node:fs')
const s = new Int32Array(workerData)
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

export class SyncThread implements SyncHelper {
  private readonly shared = new Int32Array(new SharedArrayBuffer(16))
  private readonly worker: Worker

  constructor(fd: number) {
    this.shared[FD] = fd
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: this.shared.buffer,
      // None of the parent's flags: this code needs none, and some break it (--input-type=module
      // compiles eval'd code as an ES module; test/process/worker-flags.test.ts).
      execArgv: [],
    })
    this.worker.on('error', () => {})
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

  finish(): Error | undefined {
    const deadline = Date.now() + WAIT_LIMIT_MS
    while (this.running) {
      if (Date.now() > deadline) return Object.assign(new Error('fdatasync on the sync thread did not finish'), { code: 'ETIMEDOUT' })
      Atomics.wait(this.shared, STATE, REQUESTED, 1000)
    }
    const errno = Atomics.load(this.shared, ERRNO)
    Atomics.store(this.shared, STATE, IDLE)
    if (errno === 0) return undefined
    const code = getSystemErrorName(errno)
    return Object.assign(new Error(`${code}: fdatasync failed on the sync thread`), { code, errno, syscall: 'fdatasync' })
  }

  stop(): void {
    this.finish()
    Atomics.store(this.shared, STATE, STOP)
    Atomics.notify(this.shared, STATE)
  }
}
