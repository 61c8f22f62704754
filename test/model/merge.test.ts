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
import { checkDatabase } from '../../src/check/index.js'
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
})
