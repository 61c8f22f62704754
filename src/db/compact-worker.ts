/**
 * The worker thread of a compaction (compact-thread.ts): opens the database file read-only
 * and `<path>.compact` new, and runs a Compactor between them as the writer's thread asks.
 *
 * Messages in (in order, one port): copy { seq, heads, record, end } queues commits and
 * copies them; finish { seq } writes the header, fsyncs and closes the new file.
 * Messages out: progress, finished (the new file's head), error. After each message in is
 * done, control[DONE] = its seq (Atomics.notify), so the writer can wait without its event loop;
 * then a progress message wakes a writer waiting on its event loop.
 * control[STOP] (set by an abort) is looked at between steps of the copy; the worker then
 * closes both files, sets control[EXITED] and ends. It sets control[STARTED] before its first
 * look at STOP, so an abort that finds STARTED unset knows the worker will never touch a file.
 */
import { workerData, type MessagePort } from 'node:worker_threads'
import { CambiumError } from '../errors.js'
import { realFileIO } from '../io/real-file-io.js'
import { Store } from '../store/store.js'
import type { Head } from '../txn/commit.js'
import { Compactor } from './compactor.js'
import { DONE, EXITED, ROUND_MS, STARTED, STOP, type ErrorData, type ToWorker } from './compact-thread.js'

interface Setup {
  path: string
  tmpPath: string
  createdAt: number
  control: SharedArrayBuffer
  port: MessagePort
}

const setup = workerData as Setup
const control = new Int32Array(setup.control)
const port = setup.port
/** The source's node cache: unused (the Compactor reads around the cache), so the smallest. */
const CACHE_SIZE = 1 << 20
/** Copying between two looks at STOP, in ms (an abort waits about this long). */
const STEP_MS = 20
/** Between two progress messages, in ms (the writer's onProgress sees the copy advance). */
const PROGRESS_MS = 100

class Stopped extends Error {}

let store: Store | undefined
let compactor: Compactor | undefined
/** set once a message failed (its error posted): the worker then closes its files and ends */
let failed = false

/** The source's end starts at 0: each copy message raises it to the writer's end. */
function start(): Compactor {
  store = new Store(realFileIO.open(setup.path, 'r'), setup.path, CACHE_SIZE, 0, 0)
  store.readsAhead = false
  return new Compactor(realFileIO.open(setup.tmpPath, 'create'), setup.path, store, setup.createdAt)
}

function progress(c: Compactor): void {
  port.postMessage({ t: 'progress', versions: c.copied.length, nodes: c.nodesCopied, bytes: c.size })
}

function stopped(): boolean {
  return Atomics.load(control, STOP) !== 0
}

function handle(m: ToWorker): void {
  const c = (compactor ??= start())
  if (m.t === 'copy') {
    // The writer's bytes below `end` are written and never change: the source may read them.
    store!.end = Math.max(store!.end, m.end)
    c.enqueue(m.heads as Head[], m.record)
    const t0 = performance.now()
    let shown = t0
    while (!c.step(performance.now() + STEP_MS)) {
      if (stopped()) throw new Stopped()
      if (performance.now() - shown >= PROGRESS_MS) {
        progress(c)
        shown = performance.now()
      }
    }
    Atomics.store(control, ROUND_MS, Math.ceil(performance.now() - t0))
    return
  }
  const head = c.finish()
  closeFiles()
  port.postMessage({ t: 'finished', head, end: c.end, seed: c.seed, copied: c.copied })
}

function closeFiles(): void {
  for (const h of [compactor?.handle, store?.handle]) {
    try {
      h?.close()
    } catch {
      // Closing after a failure or an abort: the error that matters is already reported.
    }
  }
  compactor = undefined
  store = undefined
}

function exit(): void {
  closeFiles()
  Atomics.store(control, EXITED, 1)
  Atomics.notify(control, EXITED)
  port.close()
}

function errorData(e: unknown): ErrorData {
  if (!(e instanceof Error)) return { message: String(e) }
  const c = e.cause instanceof Error ? e.cause : undefined
  return {
    message: e.message,
    code: e instanceof CambiumError ? e.code : undefined,
    path: e instanceof CambiumError ? e.path : undefined,
    offset: e instanceof CambiumError ? e.offset : undefined,
    cause: c === undefined ? undefined : { message: c.message, code: (c as NodeJS.ErrnoException).code },
  }
}

// Also when the worker ends on an uncaught error: a writer blocked waiting for DONE sees EXITED.
process.on('exit', () => {
  Atomics.store(control, EXITED, 1)
  Atomics.notify(control, EXITED)
  Atomics.notify(control, DONE)
})
Atomics.store(control, STARTED, 1)
port.on('message', (m: ToWorker) => {
  if (stopped()) return exit()
  try {
    handle(m)
  } catch (e) {
    if (e instanceof Stopped) return exit()
    port.postMessage({ t: 'error', error: errorData(e) })
    failed = true
    closeFiles()
  }
  Atomics.store(control, DONE, m.seq)
  Atomics.notify(control, DONE)
  // After DONE: the writer, woken by this message, must find the round done (a failed one
  // already woke it with its error).
  if (m.t === 'copy' && compactor !== undefined) progress(compactor)
  if (m.t === 'finish' || failed) exit()
})
if (stopped()) exit()
