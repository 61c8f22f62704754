// lmdb-js. Two variants: the sync API (putSync, transactionSync) and the async API (put()
// promises, which lmdb-js batches into one transaction per event turn, committed on its
// write thread). Not durable: noSync: true (no fsync at all). Durable: overlappingSync: false,
// so a commit returns (or its promise resolves) only after LMDB's fsync.
import { open as openLmdb } from 'lmdb'
import { versionOf } from '../lib/version.mjs'
import { prefixEnd } from '../lib/data.mjs'

const version = versionOf('lmdb')

export function lmdbAdapter({ async }) {
  return {
    name: async ? 'lmdb-async' : 'lmdb',
    version,
    durability: (durable) => (durable ? 'overlappingSync: false (fsync per commit)' : 'noSync: true (no fsync)'),
    async open(dir, { durable } = {}) {
      const db = openLmdb({ path: dir, keyEncoding: 'binary', encoding: 'binary', noSync: !durable, overlappingSync: durable ? false : undefined })
      const count = (it) => { let n = 0; for (const _ of it) n++; return n }
      return {
        writeBatch: async
          ? async (pairs) => { let p; for (const [k, v] of pairs) p = db.put(k, v); await p }
          : (pairs) => db.transactionSync(() => { for (const [k, v] of pairs) db.putSync(k, v) }),
        put: async ? async (key, value) => { await db.put(key, value) } : (key, value) => db.putSync(key, value),
        get: (key) => db.get(key),
        scanAll: () => count(db.getRange()),
        scanFrom: (key, limit) => count(db.getRange({ start: key, limit })),
        scanPrefix: (prefix, limit) => count(db.getRange({ start: prefix, end: prefixEnd(prefix), limit })),
        settle: () => db.committed,
        close: () => db.close(),
      }
    },
  }
}

export default lmdbAdapter({ async: false })
