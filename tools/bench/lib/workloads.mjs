// What run.mjs runs: the engines and the workloads, with their descriptions for RESULTS.md.

export const ENGINES = ['cambium', 'lmdb', 'lmdb-async', 'classic-level', 'better-sqlite3', 'hyperbee', 'snap-db']

/** Each workload runs as one child process per engine per run; it may report several
 *  metrics. template: 'read' = runs on the loaded database (a copy, or in place for engines
 *  that cannot be copied), 'write' = on a private copy of it, undefined = on a fresh one. */
export const WORKLOADS = [
  { id: 'w1', workload: 'load', metrics: ['load'], producesTemplate: true },
  { id: 'w2', workload: 'get', metrics: ['get'], template: 'read', readOnly: true },
  { id: 'w3', workload: 'scan', metrics: ['scan-full', 'scan-short'], template: 'read', readOnly: true },
  { id: 'w4a', workload: 'put', metrics: ['put-fresh-nosync'], durable: false },
  { id: 'w4b', workload: 'put', metrics: ['put-fresh-fsync'], durable: true },
  { id: 'w4c', workload: 'put', metrics: ['put-loaded-nosync'], durable: false, template: 'write' },
  { id: 'w4d', workload: 'put', metrics: ['put-loaded-fsync'], durable: true, template: 'write' },
  { id: 'w6', workload: 'overwrite', metrics: ['overwrite'], template: 'write' },
  { id: 'w7', workload: 'sorted', metrics: ['sorted'] },
  { id: 'w8', workload: 'cache', metrics: ['cache-5', 'cache-full'], template: 'read', readOnly: true, cambiumOnly: true },
  { id: 'w9', workload: 'real', metrics: ['real-load', 'real-get', 'real-prefix'] },
]

/** Per metric: title, what it measures, the unit of its ops. */
export const METRICS = {
  load: { title: 'W1 — random-order load', unit: 'puts/s', writes: true, desc: 'N keys (16 random bytes) with 100-byte random values into an empty database, in commits of 1,000 puts, no fsync per commit. Time includes close().' },
  get: { title: 'W2 — random gets', unit: 'gets/s', desc: 'N point lookups in random order on the loaded database, 10% of them for keys never stored; every hit and miss is checked.' },
  'scan-full': { title: 'W3a — full ordered scan', unit: 'entries/s', desc: 'One pass over every entry (key and value) of the loaded database, in key order.' },
  'scan-short': { title: 'W3b — short scans', unit: 'scans/s', desc: '10,000 range reads of 50 entries, each from a random start key.' },
  'put-fresh-nosync': { title: 'W4a — single-put commits, fresh database, no fsync', unit: 'commits/s', writes: true, desc: 'One commit per put of a new random key, into an empty database, without fsync. Time includes close().' },
  'put-fresh-fsync': { title: 'W4b — single-put commits, fresh database, fsync', unit: 'commits/s', writes: true, fsync: true, desc: 'As W4a but every commit is durable (fsync) before the next starts. Fewer ops.' },
  'put-loaded-nosync': { title: 'W4c — single-put commits, loaded database, no fsync', unit: 'commits/s', writes: true, desc: 'As W4a, into the loaded database (N keys).' },
  'put-loaded-fsync': { title: 'W4d — single-put commits, loaded database, fsync', unit: 'commits/s', writes: true, fsync: true, desc: 'As W4b, into the loaded database (N keys). Fewer ops.' },
  overwrite: { title: 'W6 — random overwrites', unit: 'puts/s', writes: true, desc: 'Puts of existing keys picked at random (new values; as many as the "overwrites" figure in the mode line), commits of 1,000, no fsync, yielding to the event loop between commits. cambium runs with autoCompact: true, and the time includes waiting for a running auto-compaction to finish and close(). "MB on disk" is the size after.' },
  sorted: { title: 'W7 — sorted bulk load', unit: 'puts/s', writes: true, desc: 'The W1 keys (a share of them: see the mode line) loaded in ascending key order, commits of 1,000, no fsync, into an empty database. Plain puts: no engine-specific append mode.' },
  'cache-5': { title: 'W8 — cambium gets, larger than its cache', unit: 'gets/s', cambiumOnly: true, desc: 'cambium only: random gets (10% misses) on the loaded database with cacheSize at 5% of the file size, against cacheSize larger than the file. Both after a warm-up of one full scan and a tenth as many gets. The OS page cache holds the file in both cases, so this measures cambium\'s node cache, not the disk. The ratio column compares with the fastest peer in W2 (same database, same mix of gets).' },
  'cache-full': { title: 'W8 — cambium gets, fully cached', unit: 'gets/s', cambiumOnly: true },
  'real-load': { title: 'W9a — real data: load npm package names', unit: 'puts/s', writes: true, desc: 'Real keys: a sample of the npm package names from the `all-the-package-names` package (every k-th name of the sorted list, then shuffled), value a ~60-byte JSON record; loaded in commits of 1,000, no fsync. Time includes close().' },
  'real-get': { title: 'W9b — real data: random gets', unit: 'gets/s', desc: 'As many gets as names, 10% of them for npm names not in the sample.' },
  'real-prefix': { title: 'W9c — real data: prefix scans', unit: 'scans/s', desc: '10,000 autocomplete-style scans: the first 3 characters of a random stored name as prefix, up to 100 entries each.' },
}
