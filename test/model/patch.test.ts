/**
 * Writing changed nodes by copying their unchanged parts (src/btree/patch.ts) must give the
 * very bytes the re-encoding path gives. Two databases take the same random puts, batches
 * and single puts, one with patching and one without: after every commit the two files must
 * hold the same records at the same offsets (commit records differ only in time and salt).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mergeSettings } from '../../src/btree/merge.js'
import { COMMIT_RECORD_SIZE } from '../../src/format/constants.js'
import { open, type Database } from '../../src/index.js'
import { Rng } from '../helpers/rng.js'

let dir: string
let n = 0
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-patch-'))
})
afterAll(() => {
  mergeSettings.patch = true
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Keys that share prefixes (so leaf prefixes grow and shrink) or not, and some long ones. */
const keyArb = fc.oneof(
  { weight: 5, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4, min: 97, max: 100 }) },
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 60, maxLength: 300 }) },
)
const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 257, maxLength: 700 }) },
)
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.array(fc.tuple(keyArb, valueArb), { minLength: 1, maxLength: 80 }).map((puts) => ({ t: 'batch' as const, puts })) },
  { weight: 3, arbitrary: fc.tuple(keyArb, valueArb).map(([key, value]) => ({ t: 'put' as const, key, value })) },
)
type Step = { t: 'batch'; puts: [Uint8Array, Uint8Array][] } | { t: 'put'; key: Uint8Array; value: Uint8Array }

function apply(db: Database<Buffer, Buffer>, s: Step, patch: boolean): number {
  mergeSettings.patch = patch
  try {
    return s.t === 'put' ? db.put(Buffer.from(s.key), Buffer.from(s.value)) : db.batch(s.puts.map(([key, value]) => ({ type: 'put' as const, key, value })))
  } finally {
    mergeSettings.patch = true
  }
}

/** Asserts both files hold the same bytes in [from, to). */
function sameBytes(fa: string, fb: string, from: number, to: number): void {
  const ra = Buffer.alloc(to - from)
  const rb = Buffer.alloc(to - from)
  const da = fs.openSync(fa, 'r')
  const db = fs.openSync(fb, 'r')
  try {
    fs.readSync(da, ra, 0, ra.length, from)
    fs.readSync(db, rb, 0, rb.length, from)
  } finally {
    fs.closeSync(da)
    fs.closeSync(db)
  }
  expect(ra.equals(rb), `bytes ${from}..${to}`).toBe(true)
}

/** Runs `steps` on a patching and a re-encoding database and compares every commit's records. */
function compareRuns(steps: Step[], nodeSize: number): void {
  const fa = path.join(dir, `a${++n}.cambium`)
  const fb = path.join(dir, `b${n}.cambium`)
  const a = open(fa, { durability: 'none', nodeSize })
  const b = open(fb, { durability: 'none', nodeSize })
  try {
    let from = a.internals.head.offset + COMMIT_RECORD_SIZE
    for (const s of steps) {
      expect(apply(a, s, true)).toBe(apply(b, s, false))
      const at = a.internals.head.offset
      expect(b.internals.head.offset).toBe(at)
      sameBytes(fa, fb, from, at)
      from = at + COMMIT_RECORD_SIZE
    }
    expect(a.count()).toBe(b.count())
  } finally {
    a.close()
    b.close()
  }
}

describe('patched node writes (btree/patch.ts)', () => {
  it('write the same records as re-encoding, commit by commit', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), fc.constantFrom(512, 1024, 4096), (steps, nodeSize) => compareRuns(steps, nodeSize)),
      { numRuns: 60 },
    )
  })

  it('also where a branch only grows past its limit by its pointers\' varints (rare: long runs)', () => {
    // ~1 in 1,000 single puts with short keys at nodeSize 512 reaches a branch whose new
    // pointer counts need one more varint byte right at the split limit.
    const rng = new Rng(77)
    const steps: Step[] = Array.from({ length: 6000 }, () => ({ t: 'put' as const, key: rng.bytes(3), value: rng.bytes(20) }))
    compareRuns(steps, 512)
  })
})
