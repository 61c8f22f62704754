/**
 * Packed nodes (src/format/packed-node.ts) against the array decoders and array binary
 * searches: same keys, values, children, same search answers for any probe, including
 * probes around the common prefix and keys that end inside a head's four bytes. The leaf
 * scanner (src/format/leaf-scan.ts) must give the same value for every probe and refuse what
 * packing refuses.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { lowerBound, upperBound } from '../../src/btree/search.js'
import { ByteWriter, compareBytes } from '../../src/format/bytes.js'
import { RECORD_HEADER_SIZE } from '../../src/format/constants.js'
import { scanLeaf } from '../../src/format/leaf-scan.js'
import { decodeBranch, decodeLeaf, encodeBranch, encodeLeaf, type ChildPointer, type StoredValue } from '../../src/format/node-codec.js'
import {
  Arena,
  packBranch,
  packedBound,
  packedChild,
  packedCompare,
  packedKey,
  packedKeyEquals,
  packedValue,
  packLeaf,
  relocate,
  repackBranch,
  unpack,
  type PackedNode,
} from '../../src/format/packed-node.js'

const newBytes = (n: number): Uint8Array => new Uint8Array(n)
const OFFSET = 1 << 30

/** Sorted distinct keys sharing a random prefix, with bytes from a small alphabet so heads tie. */
const keysArb = fc
  .tuple(
    fc.uint8Array({ maxLength: 5, min: 0, max: 3 }),
    fc.uniqueArray(fc.uint8Array({ minLength: 0, maxLength: 9, min: 0, max: 3 }), {
      minLength: 1,
      maxLength: 40,
      selector: (k) => Buffer.from(k).toString('hex'),
    }),
  )
  .map(([prefix, suffixes]) => suffixes.map((s) => Uint8Array.from([...prefix, ...s])).sort(compareBytes))
  .filter((keys) => keys.every((k, i) => i === 0 || compareBytes(keys[i - 1]!, k) < 0))

const probeArb = fc.uint8Array({ maxLength: 14, min: 0, max: 4 })

function body(w: ByteWriter, start: number): Uint8Array {
  return w.buf.slice(start + RECORD_HEADER_SIZE, w.pos - 4)
}

/** An arena whose slab does not hold the node being relocated, and where the copy will not
 *  start at the offset it had: every position in the copy's index must have moved. */
function elsewhere(): Arena {
  const a = new Arena()
  a.take(64)
  a.bytes.fill(0xee, 0, 64)
  return a
}

describe('packed nodes', () => {
  it('leaves: keys, values and every search answer match the array form', () => {
    fc.assert(
      fc.property(keysArb, fc.array(probeArb, { maxLength: 20 }), (keys, probes) => {
        const values: StoredValue[] = keys.map((k, i) => (i % 5 === 4 ? { offset: 100 + i, crc: 0xdeadbeef, length: 300 + i } : k.slice().reverse()))
        const w = new ByteWriter()
        encodeLeaf(w, keys, values)
        const b = body(w, 0)
        const arena = new Arena()
        const p = packLeaf(b, OFFSET, arena)
        const d = decodeLeaf(b, OFFSET)
        for (const nd of [p, relocate(p, arena), relocate(p, elsewhere())]) {
          expect(nd.size).toBe(keys.length)
          for (let i = 0; i < keys.length; i++) {
            expect(packedKey(nd, i, newBytes)).toEqual(d.keys[i])
            expect(packedValue(nd, i)).toEqual(d.values[i])
            expect(packedKeyEquals(nd, i, keys[i]!)).toBe(true)
          }
          for (const q of [...probes, ...keys]) {
            expect(packedBound(nd, q, false)).toBe(lowerBound(keys, q))
            expect(packedBound(nd, q, true)).toBe(upperBound(keys, q))
            for (let i = 0; i < keys.length; i++) expect(Math.sign(packedCompare(nd, i, q))).toBe(Math.sign(compareBytes(keys[i]!, q)))
          }
        }
        expect(unpack(p, 3)).toEqual({ ...d, edit: 3 })
        for (const q of [...probes, ...keys]) {
          const i = lowerBound(keys, q)
          expect(scanLeaf(b, OFFSET, q)).toEqual(i < keys.length && compareBytes(keys[i]!, q) === 0 ? d.values[i] : undefined)
        }
      }),
      { numRuns: 300, seed: 11 },
    )
  })

  it('branches: separators, child pointers and searches match the array form', () => {
    fc.assert(
      fc.property(keysArb, fc.array(probeArb, { maxLength: 20 }), (seps, probes) => {
        const children: ChildPointer[] = [...seps, seps[0]!].map((_, i) => ({ offset: 64 + i * 1000, crc: (i * 2654435761) >>> 0, count: i + 1, bytes: 40 * (i + 1) }))
        const w = new ByteWriter()
        encodeBranch(w, 3, seps, children)
        const b = body(w, 0)
        const arena = new Arena()
        const packed = packBranch(b, OFFSET, arena)
        const d = decodeBranch(b, OFFSET)
        for (const p of [packed, relocate(packed, arena), relocate(packed, elsewhere())]) {
          expect(p.height).toBe(3)
          expect(p.count).toBe(d.count)
          for (let i = 0; i < children.length; i++) expect(packedChild(p, i)).toEqual(children[i])
          for (const q of [...probes, ...seps]) expect(packedBound(p, q, true)).toBe(upperBound(seps, q))
          expect(unpack(p, 0)).toEqual(d)
        }
      }),
      { numRuns: 300, seed: 12 },
    )
  })

  it('a branch with child pointers replaced repacks as packBranch packs it', () => {
    // Counts and byte totals of every varint size, so replaced pointers grow and shrink.
    const sizeArb = fc.oneof(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 128, max: 1 << 20 }), fc.integer({ min: 1 << 28, max: 2 ** 40 }))
    const ptrArb = fc.record({ offset: fc.integer({ min: 64, max: OFFSET - 1 }), crc: fc.integer({ min: 0, max: 2 ** 32 - 1 }), count: sizeArb, bytes: sizeArb })
    fc.assert(
      fc.property(keysArb, fc.array(fc.option(ptrArb), { minLength: 41, maxLength: 41 }), (seps, replace) => {
        const children: ChildPointer[] = [...seps, seps[0]!].map((_, i) => ({ offset: 64 + i * 1000, crc: i, count: i + 1, bytes: 40 * (i + 1) }))
        const w = new ByteWriter()
        encodeBranch(w, 2, seps, children)
        const arena = new Arena()
        const old = packBranch(body(w, 0), OFFSET, arena)
        const next = children.map((c, i) => replace[i] ?? c)
        const w2 = new ByteWriter()
        encodeBranch(w2, 2, seps, next)
        const b = body(w2, 0)
        const fields = (p: PackedNode) => {
          const ix = Array.from(p.ix.subarray(p.ixAt, p.ixAt + 4 * p.size + 1), (x) => x - p.bodyAt)
          return { height: p.height, size: p.size, count: p.count, prefix: p.prefixAt - p.bodyAt, prefixLen: p.prefixLen, end: p.bodyEnd - p.bodyAt, aux: p.auxAt - p.ixAt, ix: ix.map((x, i) => (i >= 2 * p.size && i < 3 * p.size ? x + p.bodyAt : x)) }
        }
        // Re-parsing every pointer, and only the replaced ones (the others moved), agree with packBranch.
        const changed = replace.map((r) => (r === null ? undefined : r))
        for (const repacked of [repackBranch(old, b, elsewhere()), repackBranch(old, b, elsewhere(), changed)]) {
          expect(fields(repacked)).toEqual(fields(packBranch(b, OFFSET, new Arena())))
          expect(Buffer.from(repacked.bytes.subarray(repacked.bodyAt, repacked.bodyEnd)).equals(b)).toBe(true)
          for (let i = 0; i < next.length; i++) expect(packedChild(repacked, i)).toEqual(next[i])
        }
      }),
      { numRuns: 300, seed: 13 },
    )
  })

  it('refuses what the array decoders refuse', () => {
    const keys = [Uint8Array.of(1), Uint8Array.of(2)]
    const w = new ByteWriter()
    encodeLeaf(w, keys, [Uint8Array.of(9), { offset: 500, crc: 1, length: 300 }])
    const b = body(w, 0)
    expect(() => packLeaf(b, 400, new Arena())).toThrow(/points forward/)
    expect(() => decodeLeaf(b, 400)).toThrow(/points forward/)
    const swapped = new ByteWriter()
    encodeLeaf(swapped, [keys[1]!, keys[0]!], [Uint8Array.of(1), Uint8Array.of(2)])
    expect(() => packLeaf(body(swapped, 0), OFFSET, new Arena())).toThrow(/out of order/)
    expect(() => packLeaf(b.subarray(0, b.length - 1), OFFSET, new Arena())).toThrow()
    // The scanner checks the whole leaf, also past the key it finds.
    expect(() => scanLeaf(b, 400, keys[0]!)).toThrow(/points forward/)
    expect(() => scanLeaf(body(swapped, 0), OFFSET, keys[1]!)).toThrow(/out of order/)
    expect(() => scanLeaf(b.subarray(0, b.length - 1), OFFSET, keys[0]!)).toThrow()
    expect(() => scanLeaf(Buffer.concat([b, Uint8Array.of(0)]), OFFSET, keys[0]!)).toThrow(/trailing/)
    const flagged = b.slice()
    flagged[3] = 0x80 // entry 0's flags (count u16, prefix length 0)
    expect(() => scanLeaf(flagged, OFFSET, keys[1]!)).toThrow(/unknown entry flags/)
    expect(() => packLeaf(flagged, OFFSET, new Arena())).toThrow(/unknown entry flags/)
  })
})
