// classic-level (LevelDB). Default options (snappy compression, 8 MB block cache, 4 MB write
// buffer). Not durable: writes with sync: false (WAL written, no fsync). Durable: sync: true
// (fsync of the log per write/batch). Gets use getSync (the fastest of its APIs), scans use
// iterators with nextv (async).
import { ClassicLevel } from 'classic-level'
import { versionOf } from '../lib/version.mjs'
import { prefixEnd } from '../lib/data.mjs'

const version = versionOf('classic-level')

async function drain(it) {
  let n = 0
  for (;;) { const items = await it.nextv(1000); if (items.length === 0) break; n += items.length }
  await it.close()
  return n
}

export default {
  name: 'classic-level',
  version,
  durability: (durable) => (durable ? 'sync: true (fsync per write)' : 'sync: false (no fsync)'),
  async open(dir, { durable } = {}) {
    const db = new ClassicLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    await db.open()
    const sync = !!durable
    return {
      writeBatch: (pairs) => db.batch(pairs.map(([key, value]) => ({ type: 'put', key, value })), { sync }),
      put: (key, value) => db.put(key, value, { sync }),
      get: (key) => db.getSync(key),
      scanAll: () => drain(db.iterator()),
      scanFrom: (key, limit) => drain(db.iterator({ gte: key, limit })),
      scanPrefix: (prefix, limit) => drain(db.iterator({ gte: prefix, lt: prefixEnd(prefix), limit })),
      close: () => db.close(),
    }
  },
}
