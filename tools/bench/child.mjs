// One engine, one workload, in a process of its own: `node child.mjs '<json spec>'`.
// Prints one line `RESULT {json}` at the end. run.mjs spawns it; it can also be run by hand
// for debugging, e.g.
//   node tools/bench/child.mjs '{"engine":"cambium","workload":"load","dir":"/tmp/x","n":10000}'
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import { makeKeys, makeValues, randomIndexes, prng, SEED } from './lib/data.mjs'

const spec = JSON.parse(process.argv[2])
const BATCH = 1000
const adapter = (await import(`./adapters/${spec.engine}.mjs`)).default

// ---- measurement helpers ----------------------------------------------------------------

/** Bytes this process (all its threads) handed to write(2)/pwrite(2): /proc/self/io wchar.
 *  Used rather than write_bytes, which is charged only when a clean page is first dirtied
 *  (a page rewritten while still dirty is not counted again, one deleted while dirty is
 *  "cancelled"), so it depends on when the kernel happens to write back. None of the engines
 *  as configured writes through a writable mmap, which wchar would miss. */
function ioOf(pid = 'self') {
  try { return Number(/^wchar: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))[1]) } catch { return 0 }
}
function hwmOf(pid) { // peak RSS of a helper process, bytes
  try { return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024 } catch { return 0 }
}
/** Allocated bytes (st_blocks, so sparse files count what they use) under a directory. */
function diskUsage(p) {
  const st = statSync(p)
  if (!st.isDirectory()) return st.blocks * 512
  let sum = 0
  for (const e of readdirSync(p)) sum += diskUsage(join(p, e))
  return sum
}
/** Peak RSS of this process. VmHWM rather than process.resourceUsage().maxRSS: on Linux
 *  getrusage's maxrss survives execve, so a child would report its parent's RSS at spawn. */
const maxRss = () => hwmOf('self')
const isThenable = (r) => r !== null && typeof r === 'object' && typeof r.then === 'function'
const now = () => performance.now()

let helperHwm = 0
/** Opens the engine and returns it with an IO meter that includes the engine's helper
 *  processes (snap-db's compactor) for as long as they live. */
async function openEngine(opts) {
  baseRss ??= maxRss()
  const h = await adapter.open(spec.dir, { durable: false, extra: spec.extra, ...opts })
  const helpers = h.helpers?.() ?? []
  const start = ioOf() + helpers.reduce((s, p) => s + ioOf(p), 0)
  let helperIo = 0
  const close = async () => {
    for (const p of h.helpers?.() ?? []) { helperIo += ioOf(p); helperHwm += hwmOf(p) }
    const note = h.note?.() ?? ''
    await h.close()
    return note
  }
  const written = () => ioOf() + helperIo - start
  return { h, close, written }
}

/** Commits pairs in batches of BATCH; yields to the event loop between batches if asked. */
async function writeBatches(h, keys, values, order, yieldEach) {
  for (let i = 0; i < order.length; i += BATCH) {
    const pairs = []
    for (let j = i; j < Math.min(order.length, i + BATCH); j++) pairs.push([keys[order[j]], values[j]])
    const r = h.writeBatch(pairs)
    if (isThenable(r)) await r
    if (yieldEach) await tick()
  }
}
const identity = (n) => { const a = new Uint32Array(n); for (let i = 0; i < n; i++) a[i] = i; return a }

async function timedGets(h, getKeys, expectHits) {
  let hits = 0
  const t = now()
  for (let i = 0; i < getKeys.length; i++) {
    let r = h.get(getKeys[i])
    if (isThenable(r)) r = await r
    if (r !== undefined && r !== null) hits++
  }
  const ms = now() - t
  if (expectHits !== undefined && hits !== expectHits) throw new Error(`gets found ${hits} keys, expected ${expectHits}`)
  return ms
}
/** count get keys, 1 in 10 a key never loaded. */
function getKeySet(keys, n, count, missKeys) {
  const r = prng(SEED.order)
  const out = new Array(count)
  let hits = 0
  for (let i = 0; i < count; i++) {
    if (r() % 10 === 0) out[i] = missKeys[i % missKeys.length]
    else { out[i] = keys[r() % n]; hits++ }
  }
  return { getKeys: out, hits }
}

// ---- workloads ----------------------------------------------------------------------------

const n = spec.n
const metrics = []
let note = ''
let baseRss // peak RSS just before the engine first opens: node plus the harness's keys and values

const workloads = {
  /** W1 / W7: load n keys into a fresh database in commits of 1,000 (random or sorted order). */
  async load({ sorted = false } = {}) {
    const keys = makeKeys(n, SEED.keys)
    const values = makeValues(n)
    let order = identity(n)
    if (sorted) order = Uint32Array.from([...order].sort((a, b) => Buffer.compare(keys[a], keys[b])))
    mkdirSync(spec.dir, { recursive: true })
    const t = now()
    const e = await openEngine()
    await writeBatches(e.h, keys, values, order, false)
    await e.h.settle?.()
    note = await e.close()
    const ms = now() - t
    metrics.push({ id: sorted ? 'sorted' : 'load', ops: n, ms, disk: diskUsage(spec.dir), bytesPerPut: e.written() / n })
  },
  sorted() { return workloads.load({ sorted: true }) },

  /** W2: n random gets, 10% misses, on the loaded database. */
  async get() {
    const keys = makeKeys(n, SEED.keys)
    const { getKeys, hits } = getKeySet(keys, n, n, makeKeys(Math.ceil(n / 10), SEED.misses))
    const e = await openEngine()
    const ms = await timedGets(e.h, getKeys, hits)
    await e.close()
    metrics.push({ id: 'get', ops: n, ms, disk: diskUsage(spec.dir) })
  },

  /** W3: one full ordered scan, then 10,000 scans of 50 entries from random starts. */
  async scan() {
    const starts = makeKeys(spec.shortScans, SEED.scanStarts)
    const e = await openEngine()
    let t = now()
    let r = e.h.scanAll()
    if (isThenable(r)) r = await r
    metrics.push({ id: 'scan-full', ops: r, ms: now() - t, disk: diskUsage(spec.dir) })
    if (r !== n) throw new Error(`full scan saw ${r} entries, expected ${n}`)
    let entries = 0
    t = now()
    for (const s of starts) {
      let c = e.h.scanFrom(s, 50)
      if (isThenable(c)) c = await c
      entries += c
    }
    metrics.push({ id: 'scan-short', ops: starts.length, ms: now() - t, disk: diskUsage(spec.dir), extra: `${(entries / starts.length).toFixed(1)} entries/scan` })
    await e.close()
  },

  /** W4: single-put commits of new random keys, on a fresh or the loaded database. */
  async put() {
    const keys = makeKeys(spec.ops, 7 + (spec.durable ? 1 : 0))
    const values = makeValues(spec.ops)
    mkdirSync(spec.dir, { recursive: true })
    const before = diskUsage(spec.dir)
    const e = await openEngine({ durable: spec.durable })
    const t = now()
    for (let i = 0; i < keys.length; i++) {
      const r = e.h.put(keys[i], values[i])
      if (isThenable(r)) await r
    }
    await e.h.settle?.()
    note = await e.close()
    const ms = now() - t
    const disk = diskUsage(spec.dir)
    metrics.push({ id: spec.metric, ops: spec.ops, ms, disk, bytesPerPut: e.written() / spec.ops, growthPerPut: (disk - before) / spec.ops })
  },

  /** W6: n random overwrites of loaded keys, commits of 1,000, yielding to the event loop
   *  between commits (so cambium's autoCompact runs; its time is included), then waiting for
   *  background work and closing. */
  async overwrite() {
    const keys = makeKeys(n, SEED.keys)
    const values = makeValues(n)
    const count = spec.overwrites ?? n
    const order = randomIndexes(count, n, SEED.overwrite)
    const t = now()
    const e = await openEngine({ autoCompact: true })
    await writeBatches(e.h, keys, values, order, true)
    await e.h.settle?.()
    note = await e.close()
    const ms = now() - t
    metrics.push({ id: 'overwrite', ops: count, ms, disk: diskUsage(spec.dir), bytesPerPut: e.written() / count })
  },

  /** W8 (cambium only): random gets (10% misses) with a cache of spec.cacheSize bytes, after a
   *  warm-up of one full scan and a tenth as many gets. */
  async cache() {
    const keys = makeKeys(n, SEED.keys)
    const count = spec.gets
    const { getKeys, hits } = getKeySet(keys, n, count, makeKeys(Math.ceil(n / 10), SEED.misses))
    const e = await openEngine({ cacheSize: spec.cacheSize })
    await e.h.scanAll()
    const warm = Math.floor(count / 10)
    await timedGets(e.h, getKeys.slice(0, warm), undefined)
    const ms = await timedGets(e.h, getKeys, hits)
    await e.close()
    metrics.push({ id: spec.metric, ops: count, ms, disk: diskUsage(spec.dir), extra: `cacheSize ${(spec.cacheSize / 2 ** 20).toFixed(1)} MiB` })
  },

  /** W9: real data, npm package names (key: name, value: a small JSON record): load in
   *  commits of 1,000 in a shuffled order, reopen, random gets (10% names never loaded),
   *  then 10,000 autocomplete-style prefix scans (3-character prefix, up to 100 entries). */
  async real() {
    const sample = JSON.parse(readFileSync(spec.namesFile, 'utf8'))
    const names = sample.load.slice(0, n)
    const keys = names.map((s) => Buffer.from(s))
    const values = names.map((s, i) => Buffer.from(JSON.stringify({ name: s, id: i, latest: `1.${i % 40}.${i % 7}`, weekly: (i * 7919) % 100000 })))
    mkdirSync(spec.dir, { recursive: true })
    let t = now()
    let e = await openEngine({ textKeys: true })
    await writeBatches(e.h, keys, values, identity(n), false)
    await e.h.settle?.()
    await e.close()
    metrics.push({ id: 'real-load', ops: n, ms: now() - t, disk: diskUsage(spec.dir), bytesPerPut: e.written() / n })

    const missKeys = sample.misses.map((s) => Buffer.from(s))
    const { getKeys, hits } = getKeySet(keys, n, n, missKeys)
    e = await openEngine({ textKeys: true })
    metrics.push({ id: 'real-get', ops: n, ms: await timedGets(e.h, getKeys, hits), disk: diskUsage(spec.dir) })
    const r = prng(SEED.names)
    const prefixes = Array.from({ length: spec.prefixScans }, () => Buffer.from([...names[r() % n]].slice(0, 3).join('')))
    let entries = 0
    t = now()
    for (const p of prefixes) {
      let c = e.h.scanPrefix(p, 100)
      if (isThenable(c)) c = await c
      entries += c
    }
    metrics.push({ id: 'real-prefix', ops: prefixes.length, ms: now() - t, disk: diskUsage(spec.dir), extra: `${(entries / prefixes.length).toFixed(1)} entries/scan` })
    await e.close()
  },
}

await workloads[spec.workload]()
const peakRss = maxRss() + helperHwm
console.log('RESULT ' + JSON.stringify({ metrics, peakRss, baseRss, note }))
// Some engines keep handles (timers, helper processes) alive after close.
process.exit(0)
