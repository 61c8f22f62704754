// A read-only follower in its own process, on the built dist/. Usage: node reader.mjs <db path>
// Prints "READY <version> <count>", takes a snapshot of that version and a half-consumed
// iterator, then obeys stdin lines:
//   REFRESH  refresh(), print "AT <version> <count> <get('shared')> <history versions joined by ,>"
//            and "OLD <snapshot count> <snapshot get('shared')> <iterator items left> <checkout(first) code or 'ok'>"
//   STOP     close, print "BYE", exit 0
// Any error prints "FAIL <message>" and exits 1.
import { createInterface } from 'node:readline'
import { open } from '../../../dist/index.js'

const say = (s) => process.stdout.write(s + '\n')
try {
  const db = open(process.argv[2], { readOnly: true, keyEncoding: 'utf8', valueEncoding: 'utf8' })
  const firstVersion = db.version
  const snap = db.checkout(firstVersion)
  const iter = db.range()
  for (let i = 0; i < 10; i++) iter.next()
  say(`READY ${db.version} ${db.count()}`)
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    try {
      if (line === 'REFRESH') {
        const v = db.refresh()
        if (v !== db.version) throw new Error(`refresh() returned ${v}, db.version is ${db.version}`)
        const hist = [...db.history()].map((h) => h.version)
        say(`AT ${v} ${db.count()} ${db.get('shared')} ${hist.join(',')}`)
        let rest = 0
        for (const _ of iter) rest++
        let old = 'ok'
        try {
          db.checkout(1)
        } catch (e) {
          old = e.code ?? String(e)
        }
        say(`OLD ${snap.count()} ${snap.get('shared')} ${rest} ${old}`)
      } else if (line === 'STOP') {
        db.close()
        say('BYE')
        process.exit(0)
      }
    } catch (e) {
      say(`FAIL ${e && e.stack ? e.stack.replace(/\n/g, ' | ') : String(e)}`)
      process.exit(1)
    }
  })
} catch (e) {
  say(`FAIL ${e && e.stack ? e.stack.replace(/\n/g, ' | ') : String(e)}`)
  process.exit(1)
}
