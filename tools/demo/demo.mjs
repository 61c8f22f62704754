#!/usr/bin/env node
// cambium quick-start demo: `npm run demo` (builds first, then runs this file).
//
// Loads a small book catalogue (tools/demo/books.json) into a fresh database in a
// temporary directory, one commit per genre, then queries it, changes it, looks at
// its history, reads an old version and rolls back. The temp dir is removed at the end.
//
// Keys are `book:<genre>:<isbn>:<field>` (utf8), one key per field; values are JSON.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const FIELDS = ['title', 'author', 'year', 'price']

if (!existsSync(new URL('../../dist/index.js', import.meta.url))) {
  console.error('cambium is not built yet (dist/index.js is missing): run `npm run demo`, which builds first.')
  process.exit(1)
}
const cambium = await import('../../dist/index.js')

const { books } = JSON.parse(readFileSync(new URL('./books.json', import.meta.url), 'utf8'))
const genres = [...new Set(books.map((b) => b.genre))]

const key = (b, field) => `book:${b.genre}:${b.isbn}:${field}`
const money = (n) => (typeof n === 'number' ? n.toFixed(2) : String(n))
const log = (line = '') => console.log(line)

/** Read one book (all four fields) from a database or a snapshot. */
function readBook(view, b) {
  const out = {}
  for (const f of FIELDS) out[f] = view.get(key(b, f))
  return out
}

/** Every [key, value] pair of a database or snapshot, as a comparable string. */
const contents = (view) => JSON.stringify([...view.range()])

const dir = mkdtempSync(join(tmpdir(), 'cambium-demo-'))
const file = join(dir, 'books.cambium')
let db
try {
  db = cambium.open(file, { create: true, keyEncoding: 'utf8', valueEncoding: 'json' })
  log(`cambium demo: ${books.length} books in ${genres.length} genres -> ${file}`)

  // 1. Load: one atomic batch (one commit, one new version) per genre.
  log()
  log('1. Load, one batch per genre (4 keys per book):')
  for (const genre of genres) {
    const ops = []
    for (const b of books.filter((x) => x.genre === genre)) {
      for (const f of FIELDS) ops.push({ type: 'put', key: key(b, f), value: b[f] })
    }
    const v = db.batch(ops)
    log(`   v${v}  ${genre.padEnd(8)} ${String(ops.length / FIELDS.length).padStart(2)} books  total keys ${db.count()}`)
  }
  const loaded = db.version

  // 2. Queries on the latest version.
  log()
  log(`2. Queries at v${db.version}:`)
  const fantasy = [...db.range({ prefix: 'book:fantasy:' })].filter(([k]) => k.endsWith(':title')).map(([, v]) => v)
  log(`   fantasy titles (${fantasy.length}): ${fantasy.slice(0, 3).join(' | ')} | ...`)
  log(`   count({ prefix: 'book:scifi:' }) = ${db.count({ prefix: 'book:scifi:' })} keys`)
  const lastKeys = [...db.keys({ prefix: 'book:', reverse: true, limit: 2 })]
  log(`   last 2 keys (reverse): ${lastKeys.join(', ')}`)
  const firstPoem = books.find((b) => b.genre === 'poetry')
  log(`   values of one book (fields in key order): ${JSON.stringify([...db.values({ prefix: `book:poetry:${firstPoem.isbn}:` })])}`)

  // 3. A transaction: 20% off every mystery book, all or nothing.
  const mysteries = books.filter((b) => b.genre === 'mystery')
  const sample = mysteries[0]
  const before = db.get(key(sample, 'price'))
  const changed = db.transaction((tx) => {
    let n = 0
    for (const b of mysteries) {
      const k = key(b, 'price')
      tx.put(k, Math.round(tx.get(k) * 80) / 100)
      n++
    }
    return n
  })
  const discounted = db.version
  log()
  log(`3. Transaction: 20% off ${changed} mystery books -> v${discounted}`)
  log(`   "${sample.title}": ${money(before)} -> ${money(db.get(key(sample, 'price')))}`)

  // 4. Delete one book: its four keys in one batch.
  const gone = books.find((b) => b.genre === 'scifi')
  const deleted = db.batch(FIELDS.map((f) => ({ type: 'del', key: key(gone, f) })))
  log()
  log(`4. Delete "${gone.title}" (4 keys, one batch) -> v${deleted}`)
  log(`   has(title)=${db.has(key(gone, 'title'))}  sci-fi keys now ${db.count({ prefix: 'book:scifi:' })}`)

  // 5. History: every commit is a version.
  log()
  log('5. History (newest first):')
  log('   version  time (UTC)    entries   bytes')
  for (const h of db.history({ reverse: true, limit: 10 })) {
    const time = h.time instanceof Date ? h.time.toISOString().slice(11, 23) : String(h.time)
    log(`   v${String(h.version).padEnd(7)} ${time.padEnd(12)} ${String(h.entries).padStart(8)} ${String(h.bytes).padStart(7)}`)
  }

  // 6. Time travel: a read-only snapshot of an old version.
  const old = db.checkout(loaded)
  const then = readBook(old, sample)
  log()
  log(`6. checkout(v${loaded}): the catalogue as it was before the discount and the delete`)
  log(`   "${then.title}" price then ${money(then.price)}, now ${money(db.get(key(sample, 'price')))}`)
  log(`   "${old.get(key(gone, 'title'))}" exists then: ${old.has(key(gone, 'title'))}, now: ${db.has(key(gone, 'title'))}`)

  // 7. Rollback: a new version whose contents equal an old one. Nothing is erased.
  const rolled = db.rollback(loaded)
  log()
  log(`7. rollback(v${loaded}) -> new version v${rolled}`)
  log(`   contents equal v${loaded}: ${contents(db) === contents(db.checkout(loaded))}  (${db.count()} keys)`)
  log(`   "${sample.title}" price ${money(db.get(key(sample, 'price')))}, "${gone.title}" is back: ${db.has(key(gone, 'title'))}`)
  const later = db.checkout(deleted)
  log(`   v${deleted} is still readable: ${later.count()} keys, "${sample.title}" at ${money(later.get(key(sample, 'price')))}`)

  db.close()
  db = undefined
  log()
  log(`Done. Closed at v${rolled}, file size ${statSync(file).size} bytes; removing the temp dir.`)
} catch (err) {
  console.error(`demo failed: ${err?.code ? `${err.code}: ` : ''}${err?.stack ?? err}`)
  process.exitCode = 1
} finally {
  try {
    db?.close()
  } catch {
    // already failing; the original error is what matters
  }
  rmSync(dir, { recursive: true, force: true })
}
