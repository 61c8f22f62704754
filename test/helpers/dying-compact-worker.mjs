// A stand-in for src/db/compact-worker.ts (test/compaction/worker.test.ts) that ends on an
// uncaught error at its first message, as the real worker would on a bug. Its exit hook stores
// EXITED and wakes DONE's waiters, as the real worker's does (words: DONE 0, STARTED 2, EXITED 3).
import { workerData } from 'node:worker_threads'

const control = new Int32Array(workerData.control)
process.on('exit', () => {
  Atomics.store(control, 3, 1)
  Atomics.notify(control, 3)
  Atomics.notify(control, 0)
})
Atomics.store(control, 2, 1)
workerData.port.on('message', () => {
  throw new Error('the stand-in worker fails')
})
