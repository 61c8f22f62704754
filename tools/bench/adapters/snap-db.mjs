// snap-db (pure-JS LSM tree), mainThread: true (its faster single-thread mode; compaction
// still runs in a forked process, whose writes and RSS the harness adds via helpers()).
// Keys and values are strings only: binary keys are stored as hex (keeps their order), text
// keys as text, values as base64. It fsyncs its log on every put and every transaction
// (endTx) with no way to turn that off, so it is durable in both modes.
import { SnapDB } from 'snap-db'
import { versionOf } from '../lib/version.mjs'

const version = versionOf('snap-db')

export default {
  name: 'snap-db',
  version,
  durability: () => 'always fsyncs each put / transaction (cannot be turned off)',
  alwaysFsync: true,
  async open(dir, { textKeys } = {}) {
    const db = new SnapDB({ dir, key: 'string', mainThread: true })
    await db.ready()
    const k = textKeys ? (b) => b.toString('utf8') : (b) => b.toString('hex')
    const query = (args) => new Promise((resolve, reject) => {
      let n = 0
      db.query(args, () => { n++ }, (err) => (err ? reject(err) : resolve(n)))
    })
    return {
      async writeBatch(pairs) { await db.startTx(); for (const [key, v] of pairs) await db.put(k(key), v.toString('base64')); await db.endTx() },
      put: (key, value) => db.put(k(key), value.toString('base64')),
      async get(key) { const s = await db.get(k(key)); return s === undefined ? undefined : Buffer.from(s, 'base64') },
      scanAll: () => query({}),
      scanFrom: (key, limit) => query({ gte: k(key), limit }),
      scanPrefix: (prefix, limit) => query({ gte: k(prefix), lt: k(prefix) + '\uffff', limit }),
      helpers: () => [db._compactor?.pid].filter(Boolean),
      close: () => db.close(),
    }
  },
}
