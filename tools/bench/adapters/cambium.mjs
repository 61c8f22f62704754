// cambium, the engine under test (built into /work/main/dist by `npm run build`).
// durable: durability 'full' = one fdatasync per commit, with preallocate 1 MiB (small commits
// overwrite synced zeros instead of growing the file; --cambium-opts '{"preallocate":0}' turns
// it off); else 'none' = no fsync per commit (fsync on close and about once per 8 MiB appended).
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { open as openDb } from '../../../dist/index.js'

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'))

export default {
  name: 'cambium',
  version: pkg.version,
  durability: (durable) => (durable ? "durability: 'full' (fdatasync per commit), preallocate: 1 MiB" : "durability: 'none' (no fsync per commit)"),
  async open(dir, { durable, cacheSize, autoCompact, extra } = {}) {
    const db = openDb(join(dir, 'db.cambium'), {
      durability: durable ? 'full' : 'none',
      ...(durable && { preallocate: 1 << 20 }),
      ...(cacheSize !== undefined && { cacheSize }),
      ...(autoCompact && { autoCompact: true }),
      ...extra,
    })
    return {
      writeBatch: (pairs) => db.batch(pairs.map(([key, value]) => ({ type: 'put', key, value }))),
      put: (key, value) => db.put(key, value),
      get: (key) => db.get(key),
      scanAll() { let n = 0; for (const _ of db.range()) n++; return n },
      scanFrom(key, limit) { let n = 0; for (const _ of db.range({ gte: key, limit })) n++; return n },
      scanPrefix(prefix, limit) { let n = 0; for (const _ of db.range({ prefix, limit })) n++; return n },
      async settle() { // let a background (auto) compaction finish: its time counts
        while (db.compaction.running) await new Promise((r) => setTimeout(r, 5))
      },
      note() {
        const c = db.compaction
        if (c.lastError) return `auto-compaction failed: ${c.lastError.message}`
        if (c.lastResult) return `auto-compaction ran: ${(c.lastResult.bytesBefore / 2 ** 20).toFixed(0)} -> ${(c.lastResult.bytesAfter / 2 ** 20).toFixed(0)} MiB`
        return ''
      },
      close: () => db.close(),
    }
  },
}
