// A writer child. Usage: node writer.mjs <mode> <db path> [durability]
//
//   hold  open read-write, print "READY <pid> <version>", then obey stdin:
//         "COMMIT <n>" makes n commits ("ACK <v>" each, then "COMMITTED <v>"),
//         "CLOSE" closes, prints "CLOSED" and exits 0,
//         "EXIT" exits 0 without close() (the exit hook must release the lock).
//   try   open read-write once: prints "OPENED <version>" (then closes), or "ERROR <json>"; exits 0.
//   race  print "READY"; on "GO <epoch ms>" spin until then and open read-write:
//         won: "WON <pid>", then on "FINISH" one commit, close, "DONE <version>", exit 0;
//         lost: "ERROR <json>", exit 0.
//   loop  open read-write, print "READY <version>", then commit forever, printing
//         "ACK <v>" after each commit returns (the parent SIGKILLs it).
//   armed as loop, but first print "ARMED" and wait for a "GO" line before opening: the parent
//         spawns the next round's child while it checks this round, so node's start-up time
//         is off the critical path (and a kill may land during open() itself).
//   racer a long-lived race contender: print "READY"; on each "GO <epoch ms>" spin until then
//         (on the µs clock)
//         and open read-write: "WON <pid> <start µs> <open µs>" or "LOST <start µs> <json>";
//         the winner then takes "FINISH": one commit, close, "DONE <version>". Then the next GO.
//         (<start µs>: the wall clock, in µs, when open() was called; <open µs>: its duration.)
//
// hold also takes "COMPACT <json keep>": compact(), then "COMPACTED <json result>".
//
// An unexpected failure prints "FAIL <json>" and exits 1.
import { open } from '../../../dist/index.js'
import { commitVersion, describeError, onStdinLines, say } from './common.mjs'

const [mode, path, durability = 'full'] = process.argv.slice(2)
const opts = { durability, keyEncoding: 'utf8', valueEncoding: 'utf8' }

function fail(e) {
  say('FAIL ' + describeError(e))
  process.exit(1)
}

try {
  switch (mode) {
    case 'hold': {
      const db = open(path, opts)
      say(`READY ${process.pid} ${db.version}`)
      onStdinLines((line) => {
        try {
          const [cmd, arg] = line.split(' ')
          if (cmd === 'COMMIT') {
            for (let i = 0; i < Number(arg); i++) say(`ACK ${commitVersion(db, db.version + 1)}`)
            say(`COMMITTED ${db.version}`)
          } else if (cmd === 'COMPACT') {
            const r = db.compact({ keep: JSON.parse(line.slice('COMPACT '.length)) })
            say(`COMPACTED ${JSON.stringify(r)}`)
          } else if (cmd === 'CLOSE') {
            db.close()
            say('CLOSED')
            process.exit(0)
          } else if (cmd === 'EXIT') {
            process.exit(0)
          }
        } catch (e) {
          fail(e)
        }
      })
      break
    }
    case 'try': {
      let db
      try {
        db = open(path, opts)
      } catch (e) {
        say('ERROR ' + describeError(e))
        process.exit(0)
      }
      say(`OPENED ${db.version}`)
      db.close()
      process.exit(0)
      break
    }
    case 'race': {
      say('READY')
      onStdinLines((line) => {
        const [cmd, arg] = line.split(' ')
        if (cmd !== 'GO') return
        const at = Number(arg)
        while (Date.now() < at) {
          // spin: both contenders leave this loop at the same moment
        }
        let db
        try {
          db = open(path, opts)
        } catch (e) {
          say('ERROR ' + describeError(e))
          process.exit(0)
        }
        say(`WON ${process.pid}`)
        // Keep the lock until the parent has the loser's answer: a winner that closed at once
        // would let a slower contender (e.g. one pausing for the reclaim guard) win after it.
        onStdinLines((line2) => {
          if (line2 !== 'FINISH') return
          try {
            commitVersion(db, db.version + 1)
            const v = db.version
            db.close()
            say(`DONE ${v}`)
            process.exit(0)
          } catch (e) {
            fail(e)
          }
        })
      })
      break
    }
    case 'loop': {
      const db = open(path, opts)
      say(`READY ${db.version}`)
      for (;;) say(`ACK ${commitVersion(db, db.version + 1)}`)
    }
    case 'armed': {
      say('ARMED')
      onStdinLines((line) => {
        if (line !== 'GO') return
        try {
          const db = open(path, opts)
          say(`READY ${db.version}`)
          for (;;) say(`ACK ${commitVersion(db, db.version + 1)}`)
        } catch (e) {
          fail(e)
        }
      })
      break
    }
    case 'racer': {
      const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000)
      let db
      say('READY')
      onStdinLines((line) => {
        const [cmd, arg] = line.split(' ')
        try {
          if (cmd === 'GO') {
            const atUs = Number(arg) * 1000
            while (nowUs() < atUs) {
              // spin: both contenders leave this loop at the same moment
            }
            const t0 = nowUs()
            try {
              db = open(path, opts)
            } catch (e) {
              say(`LOST ${t0} ${describeError(e)}`)
              return
            }
            say(`WON ${process.pid} ${t0} ${nowUs() - t0}`)
          } else if (cmd === 'FINISH') {
            commitVersion(db, db.version + 1)
            const v = db.version
            db.close()
            db = undefined
            say(`DONE ${v}`)
          }
        } catch (e) {
          fail(e)
        }
      })
      break
    }
    default:
      throw new Error(`unknown mode ${mode}`)
  }
} catch (e) {
  fail(e)
}
