/**
 * The node cache's admission rule (src/store/node-cache.ts, NodeCache.admit): every node is
 * welcome until the cache first drops one; after that a leaf is admitted only when it was
 * asked for lately, so a leaf read once (a scan, a random get) does not push out others.
 */
import { describe, expect, it } from 'vitest'
import { ByteWriter } from '../../src/format/bytes.js'
import { RECORD_HEADER_SIZE } from '../../src/format/constants.js'
import { encodeLeaf } from '../../src/format/node-codec.js'
import { Arena, packLeaf } from '../../src/format/packed-node.js'
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
