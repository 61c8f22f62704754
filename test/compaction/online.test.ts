/**
 * Online compaction on a real file: a writer commits continuously (a setImmediate loop of
 * db.put) while compactAsync copies a database of 60k keys on its worker thread. At the end every writer
 * commit is there (versions consecutive, values exact), versions continue after the swap,
 * history is consistent, and the pauses stay sane (the figures are printed; only a loose bound
 * is asserted, machines are noisy).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { open, type CompactResult, type KeepPolicy } from '../../src/index.js'
import { checkContents, expectCode, historyOf, type Db } from './helpers.js'

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-online-'))
})
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const KEYS = 60_000
const loadKey = (i: number): string => `load/${String(i).padStart(6, '0')}`
const loadVal = (i: number, gen: number): Buffer => Buffer.from(`value ${i} generation ${gen} `.padEnd(60 + (i % 50), '.'))
const wKey = (i: number): string => `writer/${String(i).padStart(6, '0')}`
const wVal = (i: number): Buffer => Buffer.from(`written while compacting #${i}`)

interface Figures {
  keep: string
  burst: number
  result: CompactResult
  writes: number
  writesDuring: number
  maxGapMs: number
  fileBefore: number
  fileAfter: number
}
const figures: Figures[] = []

async function scenario(keep: KeepPolicy, durability: 'full' | 'none', burst: number): Promise<void> {
  const file = path.join(dir, `online-${String(keep)}.cambium`)
  const db = open(file, { keyEncoding: 'utf8', durability }) as Db
  // Load, then overwrite a third of it twice: dead bytes to drop, many versions to keep.
  const model = new Map<string, Buffer>()
  for (let gen = 0; gen < 3; gen++) {
    for (let b = 0; b < KEYS; b += 2000) {
      const ops = []
      for (let i = b; i < b + 2000; i++) {
        if (gen > 0 && i % 3 !== gen) continue
        const v = loadVal(i, gen)
        model.set(loadKey(i), v)
        ops.push({ type: 'put' as const, key: loadKey(i), value: v })
      }
      if (ops.length > 0) db.batch(ops)
    }
  }
  const start = db.version
  const histBefore = historyOf(db)
  const fileBefore = fs.statSync(file).size

  // The writer: `burst` puts per turn of the event loop, plus an overwrite of a loaded key every 7th.
  const acks: number[] = []
  /** versions of the writer/ puts only */
  const wAcks: number[] = []
  let n = 0
  let stop = false
  let compacting = true
  let writesDuring = 0
  let maxGap = 0
  let last = performance.now()
  let writerError: unknown
  const writerDone = new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      maxGap = Math.max(maxGap, now - last)
      last = now
      if (stop) return resolve()
      try {
        for (let j = 0; j < burst; j++) writeOne()
        if (compacting) writesDuring += burst
      } catch (e) {
        writerError = e
        return resolve()
      }
      setImmediate(tick)
    }
    const writeOne = (): void => {
      const i = n++
      {
        const v = db.put(wKey(i), wVal(i))
        acks.push(v)
        wAcks.push(v)
        model.set(wKey(i), wVal(i))
        if (i % 7 === 0) {
          const k = (i * 7919) % KEYS
          acks.push(db.put(loadKey(k), loadVal(k, 100 + i)))
          model.set(loadKey(k), loadVal(k, 100 + i))
        }
      }
    }
    setImmediate(tick)
  })

  const r = await db.compactAsync({ keep, sliceMs: 10 })
  compacting = false
  expect(r.thread, 'on the real file layer the copy runs on a worker thread').toBe(true)
  const atSwap = r.lastVersion
  // A few more commits on the new file, then stop.
  const target = n + 50
  while (n < target && writerError === undefined) await new Promise((res) => setImmediate(res))
  stop = true
  await writerDone
  if (writerError !== undefined) throw writerError

  // Every writer commit acknowledged, consecutive.
  expect(acks.length).toBeGreaterThan(50)
  acks.forEach((v, i) => expect(v, `ack #${i}`).toBe(start + 1 + i))
  expect(db.version).toBe(start + acks.length)
  expect(atSwap).toBeGreaterThanOrEqual(start)
  expect(writesDuring, 'the writer committed while the compaction ran').toBeGreaterThan(10)

  // History: strictly increasing, ends at the latest; every commit after the swap is there.
  const hist = historyOf(db).map((h) => h.version)
  for (let i = 1; i < hist.length; i++) expect(hist[i]).toBeGreaterThan(hist[i - 1]!)
  expect(hist[hist.length - 1]).toBe(db.version)
  expect(hist.filter((v) => v > atSwap)).toEqual(Array.from({ length: db.version - atSwap }, (_, i) => atSwap + 1 + i))
  const keptAtSwap = hist.filter((v) => v <= atSwap)
  expect(keptAtSwap.length).toBe(r.versionsKept)
  expect(keptAtSwap[0]).toBe(r.firstVersion)
  expect(keptAtSwap[keptAtSwap.length - 1]).toBe(atSwap)
  if (keep === 'all') {
    expect(hist).toEqual([...histBefore.map((h) => h.version), ...Array.from({ length: db.version - start }, (_, i) => start + 1 + i)])
  } else {
    // keep 'latest': exactly the version that was latest at the swap; every other one up to it is gone.
    expect(keptAtSwap).toEqual([atSwap])
    for (const h of histBefore) if (h.version !== atSwap) expectCode(() => db.checkout(h.version), 'ERR_VERSION_NOT_FOUND', `checkout(${h.version})`)
  }

  // Contents: the latest exactly; a writer version in the middle (if kept) has exactly the writes up to it.
  checkContents(db, model, 'latest after online compaction')
  for (const i of [0, Math.floor(n / 2), n - 1]) expect(db.get(wKey(i))).toEqual(wVal(i))
  const mid = hist.find((v) => v > start + (db.version - start) / 2)!
  const snap = db.checkout(mid)
  const writerKeys = [...snap.keys({ gte: 'writer/', lt: 'writer0' })]
  const expectedWriter = wAcks.filter((v) => v <= mid).length
  expect(writerKeys.length).toBe(expectedWriter)
  expect(writerKeys).toEqual(Array.from({ length: expectedWriter }, (_, i) => wKey(i)))
  expect(snap.count()).toBe(KEYS + writerKeys.length)

  const fileAfter = fs.statSync(file).size
  db.close()
  // Reopen: the same.
  const db2 = open(file, { keyEncoding: 'utf8' }) as Db
  expect(historyOf(db2).map((h) => h.version)).toEqual(hist)
  checkContents(db2, model, 'latest after reopen')
  db2.close()
  expect(fs.existsSync(file + '.compact')).toBe(false)

  figures.push({ keep: String(keep), burst, result: r, writes: acks.length, writesDuring, maxGapMs: maxGap, fileBefore, fileAfter })
  // Loose: a pause of 2 s would mean the "online" copy held the thread for the whole copy.
  expect(r.longestPauseMs).toBeLessThan(2000)
}

describe('online compaction (compactAsync) with a concurrent writer', () => {
  afterAll(() => {
    for (const f of figures) {
      const r = f.result
      console.log(
        `[online] keep ${f.keep} (${f.burst} puts per turn): ${r.ms.toFixed(0)} ms, rounds ${r.rounds}, longest pause ${r.longestPauseMs.toFixed(1)} ms, largest event-loop gap seen by the writer ${f.maxGapMs.toFixed(1)} ms; ` +
          `${f.writes} writer commits (${f.writesDuring} during the compaction); versions kept ${r.versionsKept} (${r.firstVersion}..${r.lastVersion}); ` +
          `file ${(f.fileBefore / 2 ** 20).toFixed(2)} MiB -> ${(r.bytesAfter / 2 ** 20).toFixed(2)} MiB at the swap (${(f.fileAfter / 2 ** 20).toFixed(2)} MiB at the end)`,
      )
    }
  })

  it("keep 'latest' (durability none, 20 puts per turn of the event loop)", { timeout: 120_000 }, async () => {
    await scenario('latest', 'none', 20)
  })
  it("keep 'all' (durability full, 3 puts per turn)", { timeout: 120_000 }, async () => {
    await scenario('all', 'full', 3)
  })
})
