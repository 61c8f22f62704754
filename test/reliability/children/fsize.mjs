// A child for test/reliability/full-disk.test.ts, run under a file size limit (ulimit -f), so
// every write past the limit fails with a real EFBIG from the kernel (Node ignores SIGXFSZ).
// Usage: node fsize.mjs <mode> <db path>
//   fill  open read-write; commit 600-byte values until a commit fails; then check that nothing
//         moved, that reads work and that a tiny commit (which may fit) behaves; print
//         "RESULT <json>" and close.
//   open  try a read-write open; print "RESULT <json>" (the error, if any).
import * as fs from 'node:fs'
import { open } from '../../../dist/index.js'

const [mode, path] = process.argv.slice(2)
const say = (o) => process.stdout.write(`RESULT ${JSON.stringify(o)}\n`)
const errInfo = (e) => ({ name: e?.name, code: e?.code ?? null, cause: e?.cause?.code ?? null, message: String(e?.message ?? e) })

if (mode === 'open') {
  try {
    open(path).close()
    say({ opened: true })
  } catch (e) {
    say({ opened: false, error: errInfo(e) })
  }
} else if (mode === 'fill') {
  const db = open(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  const start = db.version
  let acked = start
  let error
  let sizeBefore = 0
  for (let i = 0; i < 100_000; i++) {
    sizeBefore = fs.statSync(path).size
    try {
      acked = db.put(`fill:${String(i).padStart(6, '0')}`, `${i}:`.padEnd(600, 'x'))
    } catch (e) {
      error = errInfo(e)
      break
    }
  }
  const out = { start, acked, error, versionAfter: db.version, sizeBefore, sizeAfter: fs.statSync(path).size }
  // Reads still work, including the last acknowledged value.
  out.lastValueOk = acked === start || db.get(`fill:${String(acked - start - 1).padStart(6, '0')}`)?.startsWith(`${acked - start - 1}:`) === true
  out.count = db.count()
  // Not poisoned: a failed write is not a failed fsync. Another big commit fails the same way;
  // a tiny one may fit below the limit.
  try {
    db.put('again', ''.padEnd(600, 'y'))
    out.again = 'committed'
  } catch (e) {
    out.again = errInfo(e).code
  }
  try {
    out.tiny = db.put('t', '1')
  } catch (e) {
    out.tiny = errInfo(e).code
  }
  out.finalVersion = db.version
  db.close()
  say(out)
} else {
  throw new Error(`unknown mode ${mode}`)
}
