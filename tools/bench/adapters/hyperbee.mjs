// hyperbee on hypercore 11 with its file storage (hypercore-storage, on RocksDB). Run on a
// smaller dataset (100k keys by default): it is far slower. No fsync option: hypercore writes
// through RocksDB without sync, so it is "not durable" in both modes and is left out of the
// fsync workloads. Everything is async.
import Hypercore from 'hypercore'
import Hyperbee from 'hyperbee'
import { versionOf as v } from '../lib/version.mjs'
import { prefixEnd } from '../lib/data.mjs'

async function count(stream) { let n = 0; for await (const _ of stream) n++; return n }

export default {
  name: 'hyperbee',
  version: `${v('hyperbee')} (hypercore ${v('hypercore')})`,
  durability: () => 'no fsync option (RocksDB writes without sync)',
  noFsync: true,
  async open(dir) {
    const core = new Hypercore(dir)
    const bee = new Hyperbee(core, { keyEncoding: 'binary', valueEncoding: 'binary' })
    await bee.ready()
    return {
      async writeBatch(pairs) { const b = bee.batch(); for (const [k, v] of pairs) await b.put(k, v); await b.flush() },
      put: (key, value) => bee.put(key, value),
      async get(key) { const node = await bee.get(key); return node === null ? undefined : node.value },
      scanAll: () => count(bee.createReadStream()),
      scanFrom: (key, limit) => count(bee.createReadStream({ gte: key, limit })),
      scanPrefix: (prefix, limit) => count(bee.createReadStream({ gte: prefix, lt: prefixEnd(prefix), limit })),
      async close() { await bee.close(); await core.close() },
    }
  },
}
