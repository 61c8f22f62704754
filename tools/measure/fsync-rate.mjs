// The machine's durable-commit ceiling: appends of 2 KiB (about a single-put commit) each
// followed by one fdatasync, best of 3 rounds of 1,000. W4b/W4d in tools/bench compare with it.
//   node tools/measure/fsync-rate.mjs [dir=os.tmpdir()]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), 'cambium-fsync-'))
const fd = openSync(join(dir, 'f'), 'w')
const block = Buffer.alloc(2048, 7)
let best = 0
for (let round = 0; round < 3; round++) {
  const t = performance.now()
  for (let i = 0; i < 1000; i++) {
    writeSync(fd, block)
    fdatasyncSync(fd)
  }
  best = Math.max(best, 1000 / ((performance.now() - t) / 1000))
}
closeSync(fd)
rmSync(dir, { recursive: true, force: true })
console.log(`append 2 KiB + fdatasync: ${Math.round(best).toLocaleString('en-US')}/s (best of 3 rounds of 1,000)`)
