// Shared by the child processes and the parent test (test/process/two-process.test.ts):
// the deterministic contents of every version, how a writer makes the next commit, and
// how a reader checks a version. Plain JS so children can run it without a build step.
//
// Version v (v >= 1) is the commit that, on top of version v-1:
//   puts key(v) = value(v)             (one new key per version, values of varied size,
//                                       some stored out of line, some ~200 KB)
//   puts 'meta' = String(v)
//   puts 'g' + (v % 5) = String(v)     (overwrites: a commit changes several leaves)
// So the contents of version v depend only on v, whichever process wrote it.

export const GROUPS = 5

export function key(v) {
  return 'k' + String(v).padStart(9, '0')
}

export function valueLength(v) {
  if (v % 101 === 0) return 200_000
  if (v % 13 === 0) return 3000
  return (v * 7) % 200
}

export function value(v) {
  const ch = String.fromCharCode(97 + (v % 26))
  return `v${v}|` + ch.repeat(valueLength(v))
}

export function expectedCount(v) {
  return v === 0 ? 0 : v + 1 + Math.min(v, GROUPS)
}

/** Value of group key g<j> at version v, or undefined. */
export function groupValue(v, j) {
  const u = v - ((((v - j) % GROUPS) + GROUPS) % GROUPS)
  return u >= 1 ? String(u) : undefined
}

/** Every [key, value] of version v, in key order. */
export function* expectedEntries(v) {
  for (let j = 0; j < GROUPS; j++) {
    const g = groupValue(v, j)
    if (g !== undefined) yield ['g' + j, g]
  }
  for (let u = 1; u <= v; u++) yield [key(u), value(u)]
  if (v >= 1) yield ['meta', String(v)]
}

/** Makes commit `v` (the handle must be at version v-1) in one of three styles. */
export function commitVersion(db, v) {
  if (db.version !== v - 1) throw new Error(`commitVersion(${v}): the database is at version ${db.version}`)
  let got
  switch (v % 3) {
    case 0:
      db.transaction((tx) => {
        tx.put(key(v), value(v))
        tx.put('meta', String(v))
        tx.put('g' + (v % GROUPS), String(v))
      })
      got = db.version
      break
    case 1:
      got = db.batch([
        { type: 'put', key: key(v), value: value(v) },
        { type: 'put', key: 'meta', value: String(v) },
        { type: 'put', key: 'g' + (v % GROUPS), value: String(v) },
      ])
      break
    default:
      got = db.batch([
        { type: 'put', key: 'g' + (v % GROUPS), value: String(v) },
        { type: 'del', key: 'absent' },
        { type: 'put', key: key(v), value: value(v) },
        { type: 'put', key: 'meta', value: String(v) },
      ])
  }
  if (got !== v) throw new Error(`commit ${v} returned version ${got}`)
  return got
}

function short(s) {
  if (typeof s !== 'string') return String(s)
  return s.length > 40 ? `${JSON.stringify(s.slice(0, 30))}... (${s.length} chars)` : JSON.stringify(s)
}

function expectEq(what, got, want, v) {
  if (got !== want) throw new Error(`version ${v}: ${what} is ${short(got)}, expected ${short(want)}`)
}

/**
 * Throws unless `view` (a utf8/utf8 Database or Snapshot) holds exactly version v's contents.
 * Point reads always; with `full`, also a scan of every entry.
 */
export function checkVersion(view, v, full = false) {
  expectEq('count()', view.count(), expectedCount(v), v)
  expectEq("get('meta')", view.get('meta'), v >= 1 ? String(v) : undefined, v)
  if (v >= 1) expectEq(`get(${key(v)})`, view.get(key(v)), value(v), v)
  if (v >= 2) expectEq(`get(${key(v - 1)})`, view.get(key(v - 1)), value(v - 1), v)
  expectEq(`get(${key(v + 1)})`, view.get(key(v + 1)), undefined, v)
  for (let j = 0; j < GROUPS; j++) expectEq(`get(g${j})`, view.get('g' + j), groupValue(v, j), v)
  if (full) {
    const want = expectedEntries(v)
    let n = 0
    for (const [k, val] of view.range()) {
      const w = want.next()
      if (w.done) throw new Error(`version ${v}: range() has an extra entry ${short(k)}`)
      expectEq(`range() key #${n}`, k, w.value[0], v)
      expectEq(`range() value of ${w.value[0]}`, val, w.value[1], v)
      n++
    }
    const w = want.next()
    if (!w.done) throw new Error(`version ${v}: range() ends after ${n} entries; missing ${short(w.value[0])}`)
  }
}

/** Calls onLine for each line on stdin; exits when stdin closes (the parent is gone). */
export function onStdinLines(onLine) {
  let buf = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      onLine(line)
    }
  })
  process.stdin.on('end', () => process.exit(0))
}

/** Writes a line to stdout. Pipes are synchronous on Linux (Node docs, "A note on process I/O"),
 *  so the line is in the pipe before the next statement runs, e.g. before the next commit. */
export function say(line) {
  process.stdout.write(line + '\n')
}

export function describeError(e) {
  return JSON.stringify({ code: e?.code ?? null, name: e?.name ?? null, message: String(e?.message ?? e), stack: String(e?.stack ?? '') })
}
