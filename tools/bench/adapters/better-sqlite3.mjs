// better-sqlite3 (SQLite). One WITHOUT ROWID table kv(k BLOB PRIMARY KEY, v BLOB), WAL
// journal, default page cache. Not durable: synchronous=OFF (no fsync). Durable:
// synchronous=FULL (WAL fsynced at every commit). close() checkpoints the WAL.
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { versionOf } from '../lib/version.mjs'
import { prefixEnd } from '../lib/data.mjs'

const version = versionOf('better-sqlite3')

export default {
  name: 'better-sqlite3',
  version,
  durability: (durable) => (durable ? 'WAL, synchronous=FULL (fsync per commit)' : 'WAL, synchronous=OFF (no fsync)'),
  async open(dir, { durable } = {}) {
    const db = new Database(join(dir, 'db.sqlite'))
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${durable ? 'FULL' : 'OFF'}`)
    db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID')
    const ins = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)')
    const sel = db.prepare('SELECT v FROM kv WHERE k = ?').pluck()
    const all = db.prepare('SELECT k, v FROM kv ORDER BY k').raw()
    const from = db.prepare('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?').raw()
    const between = db.prepare('SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?').raw()
    const tx = db.transaction((pairs) => { for (const [k, v] of pairs) ins.run(k, v) })
    const count = (it) => { let n = 0; for (const _ of it) n++; return n }
    return {
      writeBatch: (pairs) => tx(pairs),
      put: (key, value) => ins.run(key, value),
      get: (key) => sel.get(key),
      scanAll: () => count(all.iterate()),
      scanFrom: (key, limit) => from.all(key, limit).length,
      scanPrefix: (prefix, limit) => between.all(prefix, prefixEnd(prefix), limit).length,
      close: () => db.close(),
    }
  },
}
