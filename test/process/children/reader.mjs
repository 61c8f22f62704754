// A read-only child. Usage: node reader.mjs <mode> <db path>
//
//   read    open { readOnly: true }, check the latest version in full and every older version
//           by checkout, print "READ <version>", close, exit 0.
//   follow  open { readOnly: true }, print "READY <version>", then loop on refresh(), checking
//           every version it sees: versions never go backwards, and each is exactly what the
//           writer committed for it (common.mjs). The loop yields to the event loop every
//           ~10 ms to obey stdin:
//             "SYNC"  refresh once more (the parent has seen the writer exit, so the file is
//                     stable), check, print "AT <version>"
//             "STOP"  print "DONE <json stats>", close, exit 0
//
// Any failed check or error prints "FAIL <json>" and exits 1.
import { open } from '../../../dist/index.js'
import { checkVersion, describeError, onStdinLines, say } from './common.mjs'

const [mode, path] = process.argv.slice(2)

function fail(e) {
  say('FAIL ' + describeError(e))
  process.exit(1)
}

try {
  const db = open(path, { readOnly: true, keyEncoding: 'utf8', valueEncoding: 'utf8' })
  if (mode === 'read') {
    const v = db.version
    checkVersion(db, v, true)
    for (let u = 0; u <= v; u++) checkVersion(db.checkout(u), u)
    say(`READ ${v}`)
    db.close()
    process.exit(0)
  } else if (mode !== 'follow') {
    throw new Error(`unknown mode ${mode}`)
  }

  const stats = { refreshes: 0, distinct: 1, maxStep: 0, fullChecks: 0, spotChecks: 0, first: db.version, last: db.version }
  let last = db.version
  let lastFull = 0
  let prevSnap = db.checkout(last)
  let prevSnapVersion = last
  let rnd = 0x9e3779b9 ^ process.pid
  const random = (n) => {
    rnd ^= rnd << 13
    rnd ^= rnd >>> 17
    rnd ^= rnd << 5
    return (rnd >>> 0) % n
  }
  checkVersion(db, last, true)

  const seen = (v) => {
    if (db.version !== v) throw new Error(`refresh() returned ${v} but db.version is ${db.version}`)
    // Full scans cost O(entries): every version while small, then at most every 100 ms.
    const full = v <= 400 || Date.now() - lastFull > 100
    if (full) {
      lastFull = Date.now()
      stats.fullChecks++
    }
    checkVersion(db, v, full)
    checkVersion(db.checkout(v), v)
    // An older version, and a snapshot taken before this refresh, still read right.
    const u = random(v + 1)
    checkVersion(db.checkout(u), u, u <= 400)
    checkVersion(prevSnap, prevSnapVersion)
    stats.spotChecks += 2
    prevSnap = db.checkout(v)
    prevSnapVersion = v
  }

  const step = () => {
    const v = db.refresh()
    stats.refreshes++
    if (v < last) throw new Error(`refresh() went backwards: ${last} -> ${v}`)
    if (v !== last) {
      stats.maxStep = Math.max(stats.maxStep, v - last)
      stats.distinct++
      seen(v)
      last = v
      stats.last = v
    }
  }

  let stopped = false
  say(`READY ${last}`)
  onStdinLines((line) => {
    try {
      if (line === 'SYNC') {
        step()
        checkVersion(db, last, true)
        say(`AT ${last}`)
      } else if (line === 'STOP') {
        stopped = true
        say('DONE ' + JSON.stringify(stats))
        db.close()
        process.exit(0)
      }
    } catch (e) {
      fail(e)
    }
  })
  while (!stopped) {
    const until = Date.now() + 10
    while (Date.now() < until) step()
    await new Promise((r) => setImmediate(r))
  }
} catch (e) {
  fail(e)
}
