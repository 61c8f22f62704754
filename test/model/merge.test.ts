/**
 * Put-only batches take their own write path (src/btree/merge.ts: sorted, merged into the
 * tree in one pass, nodes split into runs). These check it against a sorted-Map model with
 * the shapes that stress it: duplicate keys in a batch (last wins), sorted and reversed
 * runs, long keys that make few entries fit a node, values written out of line, small and
 * default node sizes; then every past version, a structural check and a reopen.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chunks } from '../../src/btree/merge.js'
import { checkDatabase, inspectDatabase } from '../../src/check/index.js'
import { RECORD_OVERHEAD } from '../../src/format/constants.js'
import { open } from '../../src/index.js'

let dir: string
let n = 0
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-merge-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A key: short from a small alphabet (so batches collide and overwrite), or long. */
const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 3, min: 97, max: 102 }) },
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 700 }) },
)
const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 257, maxLength: 2000 }) },
)
const batchArb = fc.record({
  puts: fc.array(fc.tuple(keyArb, valueArb), { minLength: 0, maxLength: 120 }),
  order: fc.constantFrom('as-is', 'sorted', 'reversed'),
})

function model(): Map<string, Uint8Array> {
  return new Map()
}

function contents(m: Map<string, Uint8Array>): [string, string][] {
  return [...m].map(([k, v]): [string, string] => [k, hex(v)]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

describe('put-only batches (merge path) against a model', () => {
  it('random batches, every version, check and reopen', () => {
    fc.assert(
      fc.property(fc.array(batchArb, { minLength: 1, maxLength: 12 }), fc.constantFrom(512, 1024), (batches, nodeSize) => {
        const file = path.join(dir, `m${++n}.cambium`)
        const db = open(file, { durability: 'none', nodeSize })
        const m = model()
        const versions: [number, [string, string][]][] = []
        try {
          for (const b of batches) {
            const puts = b.puts.slice()
            if (b.order !== 'as-is') {
              puts.sort((x, y) => Buffer.compare(Buffer.from(x[0]), Buffer.from(y[0])))
              if (b.order === 'reversed') puts.reverse()
            }
            const v = db.batch(puts.map(([key, value]) => ({ type: 'put' as const, key, value })))
            for (const [key, value] of puts) m.set(hex(key), value)
            const want = contents(m)
            expect([...db.range()].map(([k, v]) => [hex(k), hex(v)])).toEqual(want)
            expect(db.count()).toBe(want.length)
            for (const [k, val] of m) expect(hex(db.get(Buffer.from(k, 'hex'))!)).toBe(hex(val))
            versions.push([v, want])
          }
          for (const [v, want] of versions) {
            const snap = db.checkout(v)
            expect([...snap.range()].map(([k, val]) => [hex(k), hex(val)])).toEqual(want)
          }
        } finally {
          db.close()
        }
        const r = checkDatabase(file)
        expect(r.errors).toEqual([])
        const again = open(file, { readOnly: true })
        try {
          expect([...again.range()].map(([k, v]) => [hex(k), hex(v)])).toEqual(contents(m))
        } finally {
          again.close()
        }
      }),
      { numRuns: 60, seed: 7 },
    )
  })

  it('a sorted bulk load fills leaves and keeps every key', () => {
    const file = path.join(dir, `bulk${++n}.cambium`)
    const db = open(file, { durability: 'none' })
    const keys: Buffer[] = []
    for (let i = 0; i < 20_000; i++) keys.push(Buffer.from(i.toString(16).padStart(8, '0')))
    try {
      for (let i = 0; i < keys.length; i += 1000) db.batch(keys.slice(i, i + 1000).map((key) => ({ type: 'put' as const, key, value: key })))
      expect(db.count()).toBe(keys.length)
      let i = 0
      for (const [k, v] of db.range()) {
        expect(k.equals(keys[i]!)).toBe(true)
        expect(v.equals(keys[i]!)).toBe(true)
        i++
      }
      expect(i).toBe(keys.length)
    } finally {
      db.close()
    }
    expect(checkDatabase(file).errors).toEqual([])
  })

  it('a node one entry too big splits in two, and random puts leave leaves about 2/3 full', () => {
    // chunks: 9 items of 119 bytes past a 1,024-byte limit make 2 runs (the old rule, cutting
    // at the last boundary below each run's target, made 3 runs of 3).
    const nine = new Array<number>(9).fill(119)
    const total = RECORD_OVERHEAD + 3 + 9 * 119
    expect(chunks(nine, total, 1024, 1)).toEqual([0, 5, 9])
    // A long sorted run: every run under the limit, and no more runs than whole items allow.
    const many = new Array<number>(1000).fill(119)
    const bounds = chunks(many, RECORD_OVERHEAD + 3 + 1000 * 119, 1024, 1)
    expect(bounds.length - 1).toBe(Math.ceil(1000 / Math.floor((1024 - RECORD_OVERHEAD - 3) / 119)))
    for (let i = 1; i < bounds.length; i++) expect(RECORD_OVERHEAD + 3 + (bounds[i]! - bounds[i - 1]!) * 119).toBeLessThanOrEqual(1024)

    // Random 16-byte keys with 100-byte values, as single puts and as batches: a B+tree
    // under random inserts settles near ln 2 (~69%) full; below 60% means splits cut too small.
    for (const batch of [1, 500]) {
      const file = path.join(dir, `fill${++n}.cambium`)
      const db = open(file, { durability: 'none' })
      let seed = 12345
      const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0)
      const key = (): Buffer => {
        const b = Buffer.alloc(16)
        for (let i = 0; i < 16; i += 4) b.writeUInt32BE(rnd(), i)
        return b
      }
      const value = Buffer.alloc(100, 7)
      try {
        for (let i = 0; i < 10_000; i += batch) {
          if (batch === 1) db.put(key(), value)
          else db.batch(Array.from({ length: batch }, () => ({ type: 'put' as const, key: key(), value })))
        }
      } finally {
        db.close()
      }
      const { nodes } = inspectDatabase(file)
      expect(nodes.avgLeafEntries).toBeGreaterThan(5)
      expect(nodes.avgFill).toBeGreaterThan(0.6)
    }
  })
})
