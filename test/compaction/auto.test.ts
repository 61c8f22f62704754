/**
 * Automatic compaction (open option autoCompact): an overwrite workload keeps the file within
 * about 2x the live bytes; a file compaction cannot shrink is not compacted again at every open
 * (header baseSize); close() during a background compaction leaves nothing behind.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { open, type AutoCompactOptions, type CompactResult } from '../../src/index.js'
import { checkContents, historyOf, type Db } from './helpers.js'

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-auto-'))
})
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))
const key = (i: number): string => `key/${String(i).padStart(5, '0')}`
const val = (i: number, gen: number): Buffer => Buffer.from(`${i}:${gen}:`.padEnd(40 + (i % 90), 'x'))
const liveBytes = (db: Db): number => [...db.history({ reverse: true, limit: 1 })][0]!.treeBytes
const baseSizeOf = (file: string): number => {
  const fd = fs.openSync(file, 'r')
  try {
    const b = Buffer.alloc(8)
    fs.readSync(fd, b, 0, 8, 40)
    return Number(b.readBigUInt64LE())
  } finally {
    fs.closeSync(fd)
  }
}

/** Waits (up to 30 s) for a background compaction: on a worker thread it needs real time, not turns. */
async function settle(db: Db): Promise<void> {
  const until = Date.now() + 30_000
  while (db.compaction.running && Date.now() < until) await new Promise((r) => setTimeout(r, 2))
  expect(db.compaction.running).toBe(false)
}

/** n overwrites in bursts, yielding between bursts so a background compaction can run. Returns the results seen. */
async function overwrite(db: Db, model: Map<string, Buffer>, keys: number, n: number, gen0: number): Promise<{ results: Set<CompactResult> }> {
  const results = new Set<CompactResult>()
  for (let j = 0; j < n; j++) {
    const i = (j * 7919) % keys
    const v = val(i, gen0 + j)
    db.put(key(i), v)
    model.set(key(i), v)
    if (j % 25 === 24) {
      await tick()
      const r = db.compaction.lastResult
      if (r !== undefined) results.add(r)
      if (db.compaction.lastError !== undefined) throw db.compaction.lastError
    }
  }
  return { results }
}

describe('autoCompact', () => {
  it("{ ratio: 0.5, minSize: 0 }: an overwrite workload keeps the file within ~2x the live bytes (keep 'latest')", { timeout: 120_000 }, async () => {
    const file = path.join(dir, 'latest.cambium')
    const opts = { keyEncoding: 'utf8', durability: 'none', autoCompact: { ratio: 0.5, minSize: 0 } } as const
    const db = open(file, opts) as Db
    const model = new Map<string, Buffer>()
    const KEYS = 5000
    for (let b = 0; b < KEYS; b += 500) {
      const ops = Array.from({ length: 500 }, (_, i) => ({ type: 'put' as const, key: key(b + i), value: val(b + i, 0) }))
      for (const o of ops) model.set(o.key, o.value)
      db.batch(ops)
      await tick()
    }
    const { results } = await overwrite(db, model, KEYS, 15_000, 1)
    await settle(db)
    if (db.compaction.lastResult !== undefined) results.add(db.compaction.lastResult)
    expect(db.compaction.lastError).toBeUndefined()
    const size = fs.statSync(file).size
    const live = liveBytes(db)
    console.log(`[autoCompact] latest: ${results.size}+ compactions seen, file ${size} bytes, live ${live} bytes (${(size / live).toFixed(2)}x), base ${baseSizeOf(file)}`)
    expect(results.size).toBeGreaterThan(3)
    for (const r of results) expect(r.versionsKept).toBeGreaterThanOrEqual(1)
    expect(size).toBeLessThanOrEqual(2 * Math.max(live, baseSizeOf(file)) + 4096)
    checkContents(db, model, 'latest after auto compactions')
    const hist = historyOf(db).map((h) => h.version)
    expect(hist[hist.length - 1]).toBe(db.version)
    expect(db.version).toBe(10 + 15_000)
    db.close()
    expect(fs.existsSync(file + '.compact')).toBe(false)
    const db2 = open(file, opts) as Db
    checkContents(db2, model, 'after reopen')
    db2.close()
  })

  it("a file compaction cannot shrink (keep 'all') is compacted once, then not again at the next open", { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'all.cambium')
    // Many versions, mostly dead bytes relative to the latest tree, written without autoCompact.
    const plain = open(file, { keyEncoding: 'utf8', durability: 'none' }) as Db
    const model = new Map<string, Buffer>()
    for (let i = 0; i < 3000; i++) {
      plain.put(key(i % 300), val(i % 300, i))
      model.set(key(i % 300), val(i % 300, i))
    }
    plain.close()
    const size0 = fs.statSync(file).size
    expect(baseSizeOf(file)).toBe(0)
    const auto: AutoCompactOptions = { ratio: 0.5, minSize: 0, keep: 'all' }
    const opts = { keyEncoding: 'utf8', durability: 'none', autoCompact: auto } as const

    // First open: the next commit finds the file mostly dead (baseSize 0) and compacts, keeping all.
    const db = open(file, opts) as Db
    const ino0 = fs.statSync(file).ino
    db.put('first', Buffer.from('1'))
    model.set('first', Buffer.from('1'))
    await settle(db)
    await tick()
    expect(db.compaction.lastError).toBeUndefined()
    const r = db.compaction.lastResult
    expect(r, 'the first commit compacted').toBeDefined()
    expect(r!.versionsKept).toBe(3002)
    expect(fs.statSync(file).ino).not.toBe(ino0)
    const base = baseSizeOf(file)
    expect(base).toBeGreaterThan(size0 * 0.9)
    db.put('second', Buffer.from('2'))
    model.set('second', Buffer.from('2'))
    await tick()
    await tick()
    expect(db.compaction.lastResult, 'no second compaction in the same session').toBe(r)
    db.close()

    // Reopen: the file is as compact as keep 'all' allows; a commit must not start another compaction.
    const db2 = open(file, opts) as Db
    const ino1 = fs.statSync(file).ino
    db2.put('third', Buffer.from('3'))
    model.set('third', Buffer.from('3'))
    expect(db2.compaction.running).toBe(false)
    for (let i = 0; i < 5; i++) await tick()
    expect(db2.compaction.running).toBe(false)
    expect(db2.compaction.lastResult).toBeUndefined()
    expect(db2.compaction.lastError).toBeUndefined()
    expect(fs.statSync(file).ino).toBe(ino1)
    expect(historyOf(db2).length).toBe(3004)
    checkContents(db2, model, 'after reopen')

    // It compacts again only once the file has grown past the ratio from baseSize.
    let n = 0
    while (db2.compaction.lastResult === undefined && n < 20_000) {
      db2.put(key(n % 300), val(n % 300, 10_000 + n))
      model.set(key(n % 300), val(n % 300, 10_000 + n))
      n++
      if (n % 50 === 0) await tick()
    }
    await settle(db2)
    expect(db2.compaction.lastResult).toBeDefined()
    const grownTo = db2.compaction.lastResult!.bytesBefore
    console.log(`[autoCompact] keep all: baseSize ${base}, compacted again after ${n} commits at ${grownTo} bytes (${(grownTo / base).toFixed(2)}x baseSize)`)
    expect(grownTo).toBeGreaterThan(base * 1.9)
    checkContents(db2, model, 'after the second automatic compaction')
    db2.close()
  })

  it('close() during a background compaction: no .compact file, no unhandled rejection, the reopened file is intact', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'close.cambium')
    const plain = open(file, { keyEncoding: 'utf8', durability: 'none' }) as Db
    const model = new Map<string, Buffer>()
    for (let g = 0; g < 4; g++) {
      const ops = Array.from({ length: 20_000 }, (_, i) => ({ type: 'put' as const, key: key(i), value: val(i, g) }))
      for (const o of ops) model.set(o.key, o.value)
      plain.batch(ops)
    }
    plain.close()
    const db = open(file, { keyEncoding: 'utf8', durability: 'none', autoCompact: { ratio: 0.5, minSize: 0 } }) as Db
    db.put('trigger', Buffer.from('t'))
    model.set('trigger', Buffer.from('t'))
    expect(db.compaction.running, 'a 20,000-key copy does not finish at once').toBe(true)
    // The copy's worker thread creates the file once it has started.
    for (let i = 0; i < 5000 && !fs.existsSync(file + '.compact'); i++) await new Promise((r) => setTimeout(r, 1))
    expect(fs.existsSync(file + '.compact')).toBe(true)
    expect(db.compaction.running).toBe(true)
    db.close()
    expect(fs.existsSync(file + '.compact')).toBe(false)
    for (let i = 0; i < 5; i++) await tick()
    expect(db.compaction.running).toBe(false)
    const db2 = open(file, { keyEncoding: 'utf8' }) as Db
    checkContents(db2, model, 'reopened')
    expect(historyOf(db2).length).toBe(6)
    db2.close()
  })
})
