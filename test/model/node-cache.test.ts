/**
 * The node cache (src/store/node-cache.ts):
 * - its admission rule (NodeCache.admit): every node is welcome until the cache first drops
 *   one; after that a leaf is admitted only when it was asked for lately, so a leaf read once
 *   (a scan, a random get) does not push out others;
 * - the children a cached branch remembers (NodeCache.child/link): against a second cache
 *   used through get/set only, child() must return what get() returns, and a remembered
 *   child must always belong to its branch's generation (so that no reference keeps a
 *   dropped node alive past the cache's own bound).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ByteWriter } from '../../src/format/bytes.js'
import { RECORD_HEADER_SIZE } from '../../src/format/constants.js'
import { encodeBranch, encodeLeaf } from '../../src/format/node-codec.js'
import { Arena, packBranch, packLeaf, type PackedNode } from '../../src/format/packed-node.js'
import { NodeCache } from '../../src/store/node-cache.js'

/** A packed leaf of ~400 bytes. */
function leaf(arena: Arena, offset: number): ReturnType<typeof packLeaf> {
  const w = new ByteWriter()
  encodeLeaf(w, [Uint8Array.of(1, offset & 0xff)], [new Uint8Array(400)])
  return packLeaf(w.buf.slice(RECORD_HEADER_SIZE, w.pos - 4), offset + 1000, arena)
}

describe('node cache admission', () => {
  it('takes every node until it first drops one, then only leaves asked for lately', () => {
    const arena = new Arena()
    const cache = new NodeCache(16 << 10, arena)
    let offset = 64
    let taken = 0
    // Filling: everything is admitted until a node has been dropped.
    while (cache.admit(offset)) {
      cache.set(offset, leaf(arena, offset))
      offset += 1000
      taken++
      expect(taken).toBeLessThan(200)
    }
    expect(taken).toBeGreaterThan(16) // more than the ~600-byte leaves 16 KiB holds at once
    expect(cache.get(64)).toBeUndefined() // the first one is gone
    // Full: the first ask just refused is remembered, so a second one is admitted.
    expect(cache.get(offset)).toBeUndefined()
    expect(cache.admit(offset)).toBe(true)
    expect(cache.admit(offset + 1000)).toBe(false)
    cache.clear()
    expect(cache.admit(offset + 2000)).toBe(true)
  })
})

/** Leaves at offsets 1000, 2000, ..., each ~400 bytes with a key naming its offset; branches
 *  (height 2) at offsets 1,000,000 + 1000 b, each over FANOUT consecutive leaves. */
const LEAVES = 24
const FANOUT = 6
const leafOffset = (j: number): number => 1000 * (j + 1)
const branchOffset = (b: number): number => 1_000_000 + 1000 * b

function packedLeafAt(arena: Arena, j: number): PackedNode {
  const w = new ByteWriter()
  const key = new Uint8Array(4)
  new DataView(key.buffer).setUint32(0, leafOffset(j))
  encodeLeaf(w, [key], [new Uint8Array(400)])
  return packLeaf(w.buf.slice(RECORD_HEADER_SIZE, w.pos - 4), leafOffset(j) + 500, arena)
}

function packedBranchAt(arena: Arena, b: number): PackedNode {
  const w = new ByteWriter()
  const keys = Array.from({ length: FANOUT - 1 }, (_, i) => Uint8Array.of(b, i + 1))
  const children = Array.from({ length: FANOUT }, (_, i) => ({ offset: leafOffset(b * FANOUT + i), crc: 0, count: 1, bytes: 420 }))
  encodeBranch(w, 2, keys, children)
  return packBranch(w.buf.slice(RECORD_HEADER_SIZE, w.pos - 4), branchOffset(b) + 500, arena)
}

const bodyOf = (n: PackedNode | undefined): string | undefined => (n === undefined ? undefined : Buffer.from(n.bytes.subarray(n.bodyAt, n.bodyEnd)).toString('hex'))

/** Every remembered child of a node the cache holds is of that node's generation. */
function sameGenerationLinks(cache: NodeCache): void {
  const c = cache as unknown as { young: Map<number, PackedNode>; old: Map<number, PackedNode> }
  for (const map of [c.young, c.old]) {
    for (const n of map.values()) for (const k of n.kids ?? []) if (k !== undefined) expect(k.epoch).toBe(n.epoch)
  }
}

type Op = { t: 'leaf'; j: number } | { t: 'branch'; b: number } | { t: 'get'; j: number } | { t: 'child'; b: number; i: number }

describe('node cache: remembered children', () => {
  it('child() agrees with get() through rotations and drops, and links stay within a generation', () => {
    let linkHits = 0
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ t: fc.constant('leaf' as const), j: fc.integer({ min: 0, max: LEAVES - 1 }) }),
      fc.record({ t: fc.constant('branch' as const), b: fc.integer({ min: 0, max: LEAVES / FANOUT - 1 }) }),
      fc.record({ t: fc.constant('get' as const), j: fc.integer({ min: 0, max: LEAVES - 1 }) }),
      fc.record({ t: fc.constant('child' as const), b: fc.integer({ min: 0, max: LEAVES / FANOUT - 1 }), i: fc.integer({ min: 0, max: FANOUT - 1 }) }),
      // repeated walks over a few children, so that remembered ones are found again
      fc.record({ t: fc.constant('child' as const), b: fc.integer({ min: 0, max: 1 }), i: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ t: fc.constant('child' as const), b: fc.integer({ min: 0, max: 1 }), i: fc.integer({ min: 0, max: 1 }) }),
    )
    fc.assert(
      fc.property(fc.array(op, { minLength: 100, maxLength: 300 }), (ops) => {
        const arenaA = new Arena(4096)
        const arenaB = new Arena(4096)
        // ~13 leaves per generation: rotations and drops happen every few dozen operations.
        const a = new NodeCache(16 << 10, arenaA)
        const b = new NodeCache(16 << 10, arenaB)
        for (const o of ops) {
          if (o.t === 'leaf') {
            a.set(leafOffset(o.j), packedLeafAt(arenaA, o.j))
            b.set(leafOffset(o.j), packedLeafAt(arenaB, o.j))
          } else if (o.t === 'branch') {
            a.set(branchOffset(o.b), packedBranchAt(arenaA, o.b))
            b.set(branchOffset(o.b), packedBranchAt(arenaB, o.b))
          } else if (o.t === 'get') {
            expect(bodyOf(a.get(leafOffset(o.j)))).toBe(bodyOf(b.get(leafOffset(o.j))))
          } else {
            const pa = a.get(branchOffset(o.b))
            const pb = b.get(branchOffset(o.b))
            expect(pa === undefined).toBe(pb === undefined)
            if (pa === undefined) continue
            const child = a.child(pa, o.i)
            expect(bodyOf(child)).toBe(bodyOf(b.get(leafOffset(o.b * FANOUT + o.i))))
            if (child === undefined) {
              // As a reader does after a miss: read the leaf, cache it, link it.
              const node = packedLeafAt(arenaA, o.b * FANOUT + o.i)
              a.set(leafOffset(o.b * FANOUT + o.i), node)
              a.link(pa, o.i, node)
              b.set(leafOffset(o.b * FANOUT + o.i), packedLeafAt(arenaB, o.b * FANOUT + o.i))
            } else if (pa.kids?.[o.i] === child) linkHits++
          }
          sameGenerationLinks(a)
        }
      }),
      { numRuns: 200 },
    )
    expect(linkHits).toBeGreaterThan(1000) // the shortcut was taken, not only the lookups
  })

  it('a remembered child is used without a lookup while young, and not once its generation is old', () => {
    const arena = new Arena(4096)
    const cache = new NodeCache(6 << 10, arena)
    const parent = packedBranchAt(arena, 0)
    cache.set(branchOffset(0), parent)
    const kid = packedLeafAt(arena, 1)
    cache.set(leafOffset(1), kid)
    expect(cache.child(parent, 1)).toBe(kid)
    expect(parent.kids?.[1]).toBe(kid)
    // Gone from the Map (as if dropped) but still young: the link alone finds it.
    const c = cache as unknown as { young: Map<number, PackedNode> }
    c.young.delete(leafOffset(1))
    expect(cache.child(parent, 1)).toBe(kid)
    // A rotation makes it old: the link is not trusted, the lookup finds nothing.
    for (let j = 6; j < 20; j++) cache.set(leafOffset(j), packedLeafAt(arena, j))
    expect(cache.child(parent, 1)).toBeUndefined()
  })
})
