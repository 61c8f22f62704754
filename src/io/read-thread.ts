/**
 * Reads on a worker thread ahead of a synchronous reader: a walk in key order knows the
 * offsets of the next leaves (the later children of its level-2 branch) before it needs
 * them, and a pread is a system call (~4 us on this kind of VM, the largest part of a scan
 * over an uncached tree). The worker preads a batch of them into shared memory while the
 * reader works through the current leaf; the reader takes each one that is ready as a view
 * of that memory, and reads the others itself.
 *
 * The reader never waits for the worker (waking up on its notice can take longer than a
 * read). Two areas take batches in turn; an area's state word says who may touch it:
 * FREE, WRITING (the reader is filling in a batch) or READING (the worker is reading into
 * it). Each side takes an area only by compare-and-swap from FREE, so the two never write
 * one at the same time; the reader skips a batch whose area the worker still holds. Items
 * a batch has done (its DONE count) are never written again until the reader posts into that
 * area anew. The worker is unref'd; stop() returns once it no longer touches the descriptor.
 * Layer: io (imports node:worker_threads only).
 */
import { Worker } from 'node:worker_threads'
import type { ReadHelper } from './file-io.js'

/** Items of a batch: a level-2 branch of 1 KiB nodes has ~30-60 children. */
const MAX_ITEMS = 64
/** Shared bytes per area (items of up to 4 KiB each fill it). */
const AREA_BYTES = MAX_ITEMS * 4096

/** Control words (Int32Array); per-area words are at base + area. */
const SEQ = 0 // the batch posted last (1, 2, ...); batch s is in area s & 1
const STOP = 1 // 1: exit
const EXITED = 2 // 1 once the worker is gone
const FD = 3
const STATE = 4 // per area: FREE, WRITING or READING
const AREA_SEQ = 6 // per area: the batch it holds
const COUNT = 8 // per area: items of that batch
const DONE = 10 // per area: items of that batch read so far
const SLEEPING = 12 // 1 while the worker waits for a batch (only then is it woken: a wake-up is a system call)
const STARTED = 13 // 1 once the worker runs (set before it first looks at STOP)
const CONTROL_WORDS = 14

const FREE = 0
const WRITING = 1
const READING = 2

const WORKER = `
const { workerData } = require('node:worker_threads')
const fs = require('node:fs')
const c = new Int32Array(workerData.control)
const pos = new Float64Array(workerData.pos)
const len = new Int32Array(workerData.len)
const at = new Int32Array(workerData.at)
const got = new Int32Array(workerData.got)
const data = new Uint8Array(workerData.data)
let last = 0
Atomics.store(c, ${STARTED}, 1)
while (Atomics.load(c, ${STOP}) !== 1) {
  const seq = Atomics.load(c, ${SEQ})
  if (seq === last) {
    Atomics.store(c, ${SLEEPING}, 1)
    Atomics.wait(c, ${SEQ}, seq, 1000)
    Atomics.store(c, ${SLEEPING}, 0)
    continue
  }
  last = seq
  const a = seq & 1
  if (Atomics.compareExchange(c, ${STATE} + a, ${FREE}, ${READING}) !== ${FREE}) continue
  if (Atomics.load(c, ${AREA_SEQ} + a) === seq) {
    const n = c[${COUNT} + a]
    const k = a * ${MAX_ITEMS}
    for (let i = 0; i < n && Atomics.load(c, ${SEQ}) === seq && Atomics.load(c, ${STOP}) !== 1; i++) {
      let r
      try { r = fs.readSync(c[${FD}], data, at[k + i], len[k + i], pos[k + i]) } catch { r = -1 }
      got[k + i] = r
      Atomics.store(c, ${DONE} + a, i + 1)
    }
  }
  Atomics.store(c, ${STATE} + a, ${FREE})
}
Atomics.store(c, ${EXITED}, 1)
Atomics.notify(c, ${EXITED})
`

/** How long stop() waits for a running worker to let go of the descriptor: it checks STOP
 *  before each read, so at most one read it began is still running (on the file it opened:
 *  the kernel holds the file for the call), and past this wait at worst one more may start on
 *  whatever reuses the descriptor's number, into memory nobody reads. A worker that died (its
 *  'error' event needs the event loop, which a synchronous close does not turn) must not hold
 *  up close() for long. */
const STOP_WAIT_MS = 1000

export class ReadThread implements ReadHelper {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS))
  private readonly pos = new Float64Array(new SharedArrayBuffer(8 * 2 * MAX_ITEMS))
  private readonly len = new Int32Array(new SharedArrayBuffer(4 * 2 * MAX_ITEMS))
  private readonly at = new Int32Array(new SharedArrayBuffer(4 * 2 * MAX_ITEMS))
  private readonly got = new Int32Array(new SharedArrayBuffer(4 * 2 * MAX_ITEMS))
  private readonly data = new Uint8Array(new SharedArrayBuffer(2 * AREA_BYTES))
  /** offset -> item of the batch posted last */
  private readonly items = new Map<number, number>()
  private readonly worker: Worker
  private seq = 0
  /** the area of the batch posted last, or -1 if none is current */
  private area = -1
  /** reads served from a batch (tests check that walks use them) */
  taken = 0

  constructor(fd: number) {
    this.control[FD] = fd
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { control: this.control.buffer, pos: this.pos.buffer, len: this.len.buffer, at: this.at.buffer, got: this.got.buffer, data: this.data.buffer },
      // None of the parent's flags: this code needs none, and some break it (--input-type=module
      // compiles eval'd code as an ES module; test/process/worker-flags.test.ts).
      execArgv: [],
    })
    this.worker.on('error', () => {
      Atomics.store(this.control, EXITED, 1)
    })
    this.worker.unref()
  }

  post(offsets: readonly number[], lengths: readonly number[]): void {
    const c = this.control
    this.items.clear()
    this.area = -1
    if (Atomics.load(c, STOP) === 1) return
    const seq = this.seq + 1
    const a = seq & 1
    // The worker still reads an older batch into this area: skip this one (no waiting).
    if (Atomics.compareExchange(c, STATE + a, FREE, WRITING) !== FREE) return
    const k = a * MAX_ITEMS
    let n = 0
    let used = a * AREA_BYTES
    for (let i = 0; i < offsets.length && n < MAX_ITEMS; i++) {
      const l = lengths[i]!
      if (used + l > (a + 1) * AREA_BYTES) break
      this.pos[k + n] = offsets[i]!
      this.len[k + n] = l
      this.at[k + n] = used
      this.items.set(offsets[i]!, n)
      used += l
      n++
    }
    c[COUNT + a] = n
    Atomics.store(c, DONE + a, 0)
    Atomics.store(c, AREA_SEQ + a, seq)
    Atomics.store(c, STATE + a, FREE)
    this.seq = seq
    this.area = a
    Atomics.store(c, SEQ, seq)
    // Seen awake, the worker has yet to look at SEQ again (it sets SLEEPING before it does).
    if (Atomics.load(c, SLEEPING) === 1) Atomics.notify(c, SEQ)
  }

  take(offset: number): Uint8Array | undefined {
    const a = this.area
    if (a < 0) return undefined
    const i = this.items.get(offset)
    // Not read yet: the caller reads it itself.
    if (i === undefined || Atomics.load(this.control, DONE + a) <= i) return undefined
    const k = a * MAX_ITEMS + i
    const got = this.got[k]!
    if (got <= 0) return undefined
    this.taken++
    return this.data.subarray(this.at[k]!, this.at[k]! + got)
  }

  stop(): void {
    const c = this.control
    this.items.clear()
    this.area = -1
    Atomics.store(c, STOP, 1)
    Atomics.notify(c, SEQ)
    // Not started yet: it will see STOP before it reads anything (it sets STARTED, then looks
    // at STOP; this stored STOP, then looked at STARTED), so there is nothing to wait for.
    if (Atomics.load(c, STARTED) === 0) return
    const deadline = Date.now() + STOP_WAIT_MS
    while (Atomics.load(c, EXITED) !== 1 && Date.now() < deadline) Atomics.wait(c, EXITED, 0, 50)
  }
}
