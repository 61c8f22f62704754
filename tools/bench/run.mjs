#!/usr/bin/env node
// Side-by-side benchmark: cambium against lmdb (sync and async API), classic-level,
// better-sqlite3, hyperbee and snap-db. Each engine runs each workload in a child process of
// its own, twice, A/B interleaved (run 1 in engine order, run 2 in reverse order); the best
// run is reported. Writes RESULTS.md, results.svg and results.json next to this file.
//
//   npm --prefix tools/bench install && node tools/bench/run.mjs            (full: 1M keys)
//   node tools/bench/run.mjs --quick                                        (100k keys)
//   node tools/bench/run.mjs --keys 300000 --engines cambium,lmdb --workloads w1,w2
//
// cambium is loaded from /work/main/dist: run `npm run build` first.
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, fsyncSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ENGINES, WORKLOADS, METRICS } from './lib/workloads.mjs'
import { shuffle, SEED } from './lib/data.mjs'
import { writeReport } from './lib/report.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    keys: { type: 'string' },
    'hyperbee-keys': { type: 'string' },
    'snapdb-keys': { type: 'string' },
    'real-keys': { type: 'string' },
    runs: { type: 'string', default: '2' },
    engines: { type: 'string' },
    workloads: { type: 'string' },
    'puts-nosync': { type: 'string' },
    overwrites: { type: 'string' },
    'puts-fsync': { type: 'string' },
    'cambium-opts': { type: 'string', default: '{}' },
    timeout: { type: 'string' },
    work: { type: 'string' },
    out: { type: 'string', default: HERE },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  console.log(`usage: node tools/bench/run.mjs [options]
  --quick                 100k keys, fewer single-put commits (for development)
  --keys N                dataset size (default 1,000,000; quick 100,000)
  --hyperbee-keys N       hyperbee's (smaller) dataset (default 20,000)
  --snapdb-keys N         snap-db's (smaller) dataset (default 50,000)
  --real-keys N           W9's sample of npm package names (default 50,000)
  --runs N                runs per engine and workload, interleaved (default 2)
  --engines a,b           subset of ${ENGINES.join(',')}
  --workloads w1,w4       subset of ${WORKLOADS.map((w) => w.id).join(',')} (w4 = w4a..w4d)
  --puts-nosync N         W4 single-put commits without fsync (default 10,000; quick 5,000)
  --puts-fsync N          W4 single-put commits with fsync (default 1,000; quick 500)
  --overwrites N          W6 overwrites (default N / 5; quick N); smaller datasets get the same share
  --cambium-opts JSON     extra cambium open() options, e.g. '{"nodeSize":4096}'
  --timeout S             seconds before a child is killed (default 900; quick 300)
  --work DIR              scratch directory (default: a new one under the OS temp dir)
  --out DIR               where RESULTS.md, results.svg, results.json go (default tools/bench)`)
  process.exit(0)
}

const quick = args.quick
const num = (s, d) => (s === undefined ? d : Number(String(s).replace(/_/g, '')))
const N = num(args.keys, quick ? 100_000 : 1_000_000)
// The pure-JS peers run on smaller datasets (labelled as such; they never count as the
// fastest peer): at 1M keys hyperbee alone would take most of an hour, snap-db ~10 minutes.
const HB_N = Math.min(N, num(args['hyperbee-keys'], 20_000))
const SNAP_N = Math.min(N, num(args['snapdb-keys'], 50_000))
const REAL_N = Math.min(N, num(args['real-keys'], 50_000))
const RUNS = num(args.runs, 2)
// Full-size defaults are set so that a full run takes about 15 minutes on a 2-core machine.
const PUTS_NOSYNC = num(args['puts-nosync'], quick ? 5_000 : 10_000)
const PUTS_FSYNC = num(args['puts-fsync'], quick ? 500 : 1_000)
const OVERWRITES = num(args.overwrites, quick ? N : Math.round(N / 5))
/** W7 loads this share of each engine's keys, sorted. */
const SORTED_SHARE = quick ? 1 : 0.4
const TIMEOUT_S = num(args.timeout, quick ? 300 : 900)
const CAMBIUM_OPTS = JSON.parse(args['cambium-opts'])
const engineNames = args.engines ? args.engines.split(',') : ENGINES
const workloads = args.workloads
  ? WORKLOADS.filter((w) => args.workloads.split(',').some((s) => w.id === s || (w.id.startsWith(s) && /^w\d$/.test(s))))
  : WORKLOADS
const WORK = args.work ?? mkdtempSync(join(tmpdir(), 'cambium-bench-'))
mkdirSync(WORK, { recursive: true })

const t0 = Date.now()
const loadavgStart = loadavg().map((x) => +x.toFixed(2))
const log = (...a) => console.error(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(5)}s]`, ...a)

// ---- engines: load each adapter here once, to learn its name, version and flags ----------
const engines = {}
for (const name of engineNames) {
  try {
    const a = (await import(`./adapters/${name}.mjs`)).default
    engines[name] = { name, ok: true, version: a.version, nosync: a.durability(false), fsync: a.durability(true), noFsync: !!a.noFsync, alwaysFsync: !!a.alwaysFsync, noCopy: name === 'hyperbee' }
  } catch (e) {
    const why = name === 'cambium' && e.code === 'ERR_MODULE_NOT_FOUND' ? 'not built: run `npm run build` first'
      : e.code === 'ERR_MODULE_NOT_FOUND' ? 'not installed (run `npm --prefix tools/bench install`; if that fails, not installable here)'
        : `failed to load: ${e.message.split('\n')[0]}`
    engines[name] = { name, ok: false, error: why }
    log(`${name}: ${why}`)
  }
}
const usable = engineNames.filter((e) => engines[e].ok)
const nFor = (engine) => (engine === 'hyperbee' ? HB_N : engine === 'snap-db' ? SNAP_N : N)

// ---- the real-data sample ---------------------------------------------------------------
let namesFile
function prepareNames() {
  const all = JSON.parse(readFileSync(join(HERE, 'node_modules/all-the-package-names/names.json'), 'utf8'))
  const R = Math.min(REAL_N, Math.floor(all.length / 2))
  const step = Math.floor(all.length / R)
  const load = [], misses = []
  for (let i = 0; i < R; i++) {
    load.push(all[i * step])
    if (i % 10 === 0) misses.push(all[i * step + 1])
  }
  shuffle(load, SEED.names)
  namesFile = join(WORK, 'names-sample.json')
  writeFileSync(namesFile, JSON.stringify({ load, misses }))
  return { total: all.length, sample: R }
}
let namesInfo
if (workloads.some((w) => w.workload === 'real')) {
  try { namesInfo = prepareNames() } catch (e) { namesInfo = { error: e.message.split('\n')[0] }; log(`W9 skipped, real data unavailable: ${namesInfo.error}`) }
}

// ---- children ---------------------------------------------------------------------------
function runChild(spec) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(HERE, 'child.mjs'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let out = '', err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; try { process.kill(-child.pid, 'SIGKILL') } catch {} }, TIMEOUT_S * 1000)
    child.on('close', (code) => {
      clearTimeout(timer)
      try { process.kill(-child.pid, 'SIGKILL') } catch {} // helper processes left behind, if any
      const line = out.split('\n').find((l) => l.startsWith('RESULT '))
      if (line) return resolve({ ok: true, ...JSON.parse(line.slice(7)) })
      const msg = timedOut ? `timed out after ${TIMEOUT_S} s` : (err.trim().split('\n').find((l) => /Error/.test(l)) ?? err.trim().split('\n').pop() ?? `exit ${code}`)
      resolve({ ok: false, error: msg.slice(0, 200) })
    })
  })
}

/** Copies a database directory and fsyncs the copy, so its dirty pages don't linger. */
function copyDb(from, to) {
  rmSync(to, { recursive: true, force: true })
  cpSync(from, to, { recursive: true })
  const sync = (p) => {
    if (statSync(p).isDirectory()) { for (const e of readdirSync(p)) sync(join(p, e)); return }
    const fd = openSync(p, 'r+'); fsyncSync(fd); closeSync(fd)
  }
  sync(to)
}

const templates = {}
const tplDir = (engine) => join(WORK, `template-${engine}`)
async function loadInto(engine, dir) {
  rmSync(dir, { recursive: true, force: true })
  const r = await runChild({ engine, workload: 'load', dir, n: nFor(engine) })
  if (!r.ok) throw new Error(`could not build the ${nFor(engine)}-key database: ${r.error}`)
}
async function ensureTemplate(engine) {
  if (templates[engine]) return templates[engine]
  log(`${engine}: building the ${nFor(engine).toLocaleString('en-US')}-key database`)
  await loadInto(engine, tplDir(engine))
  return (templates[engine] = tplDir(engine))
}

function specFor(w, engine, metric, dir) {
  const spec = { engine, workload: w.workload, dir, n: w.workload === 'real' ? Math.min(nFor(engine), namesInfo.sample) : nFor(engine), shortScans: 10_000, prefixScans: 10_000, namesFile, metric }
  if (engine === 'cambium') spec.extra = CAMBIUM_OPTS
  if (w.workload === 'sorted') spec.n = Math.round(nFor(engine) * SORTED_SHARE)
  if (w.workload === 'overwrite') spec.overwrites = Math.round((nFor(engine) * OVERWRITES) / N)
  if (w.workload === 'put') {
    spec.durable = w.durable
    const ops = w.durable || engines[engine].alwaysFsync ? PUTS_FSYNC : PUTS_NOSYNC
    // The engines on smaller datasets make a matching share of the commits (at least 500).
    spec.ops = nFor(engine) === N ? ops : Math.max(Math.min(ops, 500), Math.round((ops * nFor(engine)) / N))
  }
  if (w.workload === 'cache') {
    const size = statSync(join(templates[engine], 'db.cambium')).size
    spec.cacheSize = metric === 'cache-5' ? Math.max(1 << 20, Math.floor(size * 0.05)) : Math.max(64 << 20, 2 * size)
    spec.gets = Math.min(N, quick ? N : 200_000)
  }
  return spec
}

// ---- the runs -----------------------------------------------------------------------------
const results = {} // metric -> engine -> [run results]
const skipped = {} // metric -> engine -> why
const record = (metric, engine, r) => ((results[metric] ??= {})[engine] ??= []).push(r)

for (const w of workloads) {
  const list = w.cambiumOnly ? usable.filter((e) => e === 'cambium')
    : usable.filter((e) => !(e === 'lmdb-async' && w.readOnly))
  if (w.workload === 'real' && !namesFile) continue
  for (const e of usable) {
    if (!list.includes(e)) for (const m of w.metrics) (skipped[m] ??= {})[e] = e === 'lmdb-async' ? 'reads are the same as lmdb' : 'cambium-only workload'
  }
  const runList = list.filter((e) => {
    if (engines[e].noFsync && w.durable) { for (const m of w.metrics) (skipped[m] ??= {})[e] = 'n/a: no fsync option'; return false }
    return true
  })
  for (let run = 1; run <= RUNS; run++) {
    const order = run % 2 === 1 ? runList : [...runList].reverse()
    for (const engine of order) {
      const variants = w.workload === 'cache' ? w.metrics : [w.metrics[0]]
      for (const metric of variants) {
        const dir = join(WORK, `${w.id}-${engine}-${run}`)
        try {
          if (w.template) {
            const tpl = await ensureTemplate(engine)
            if (engines[engine].noCopy) {
              if (w.template === 'write') await loadInto(engine, dir)
            } else copyDb(tpl, dir)
          }
          const spec = specFor(w, engine, metric, engines[engine].noCopy && w.template === 'read' ? templates[engine] : dir)
          const t = Date.now()
          const r = await runChild(spec)
          const secs = ((Date.now() - t) / 1000).toFixed(1)
          if (!r.ok) {
            log(`${w.id} run ${run} ${engine}: FAILED (${r.error})`)
            for (const m of w.workload === 'cache' ? [metric] : w.metrics) record(m, engine, { ok: false, error: r.error, run })
          } else {
            for (const m of r.metrics) {
              record(m.id, engine, { ok: true, run, n: spec.n, ...m, opsPerSec: m.ops / (m.ms / 1000), peakRss: r.peakRss, baseRss: r.baseRss, note: r.note })
            }
            log(`${w.id} run ${run} ${engine}: ${r.metrics.map((m) => `${m.id} ${Math.round(m.ops / (m.ms / 1000)).toLocaleString('en-US')}/s`).join(', ')} (${secs} s)`)
            if (w.producesTemplate) { // the last run's database serves the later workloads
              rmSync(tplDir(engine), { recursive: true, force: true })
              renameSync(dir, tplDir(engine))
              templates[engine] = tplDir(engine)
            }
          }
        } catch (e) {
          log(`${w.id} run ${run} ${engine}: FAILED (${e.message})`)
          for (const m of w.workload === 'cache' ? [metric] : w.metrics) record(m, engine, { ok: false, error: e.message, run })
        }
        if (existsSync(dir) && dir !== templates[engine]) rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}
if (!args.work) rmSync(WORK, { recursive: true, force: true })

const elapsed = (Date.now() - t0) / 1000
const cpu = cpus()
const machine = {
  cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, memGiB: +(totalmem() / 2 ** 30).toFixed(1), freeGiB: +(freemem() / 2 ** 30).toFixed(1),
  node: process.version, kernel: release(), loadavgStart, loadavgEnd: loadavg().map((x) => +x.toFixed(2)), date: new Date().toISOString(),
}
const config = { quick, N, HB_N, SNAP_N, REAL_N, OVERWRITES, SORTED_SHARE, RUNS, PUTS_NOSYNC, PUTS_FSYNC, cambiumOpts: CAMBIUM_OPTS, namesInfo, elapsedSec: Math.round(elapsed), command: process.argv.slice(2).join(' ') }
mkdirSync(args.out, { recursive: true })
writeFileSync(join(args.out, 'results.json'), JSON.stringify({ machine, config, engines, results, skipped }, null, 2))
writeReport({ dir: args.out, machine, config, engines, results, skipped, workloads })
log(`done in ${(elapsed / 60).toFixed(1)} min: ${join(args.out, 'RESULTS.md')}`)
