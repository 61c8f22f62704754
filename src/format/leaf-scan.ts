/**
 * A point lookup straight in a leaf record's body (FORMAT.md §5), for a leaf the cache does
 * not keep: one pass over its entries, with the rules packLeaf checks (known entry flags,
 * keys in order, value pointers pointing back, no trailing bytes), and no copy, index or
 * heap object per entry.
 */
import { ByteReader } from './bytes.js'
import { ENTRY_FLAG_OUT_OF_LINE, ENTRY_FLAGS_KNOWN_V1 } from './constants.js'
import { NodeRuleError, type StoredValue } from './node-codec.js'
import { compareRange } from './packed-node.js'

/**
 * The value stored under `key` in the leaf body `body` read from `offset` (inline values as
 * views of `body`), or undefined; throws DecodeError/NodeRuleError if the leaf breaks a rule.
 */
export function scanLeaf(body: Uint8Array, offset: number, key: Uint8Array): StoredValue | undefined {
  const r = new ByteReader(body)
  const n = r.u16()
  if (n === 0) throw new NodeRuleError('empty leaf')
  const p = r.varint()
  const prefixAt = r.pos
  r.skip(p)
  // Only a key that starts with the leaf's prefix can be in it.
  const sharesPrefix = key.length >= p && compareRange(body, prefixAt, prefixAt + p, key, 0, p) === 0
  let found: StoredValue | undefined
  let prevAt = -1
  let prevLen = 0
  for (let i = 0; i < n; i++) {
    const flags = r.u8()
    if ((flags & ~ENTRY_FLAGS_KNOWN_V1) !== 0) throw new NodeRuleError(`unknown entry flags ${flags}`)
    const len = r.varint()
    const at = r.pos
    r.skip(len)
    if (prevAt >= 0 && compareRange(body, prevAt, prevAt + prevLen, body, at, at + len) >= 0) throw new NodeRuleError('keys out of order')
    prevAt = at
    prevLen = len
    const hit = sharesPrefix && found === undefined && compareRange(body, at, at + len, key, p, key.length) === 0
    if (flags & ENTRY_FLAG_OUT_OF_LINE) {
      const ptr = r.u48()
      if (ptr >= offset) throw new NodeRuleError('value pointer points forward')
      const crc = r.u32()
      const length = r.varint()
      if (hit) found = { offset: ptr, crc, length }
    } else {
      const vlen = r.varint()
      const vat = r.pos
      r.skip(vlen)
      if (hit) found = body.subarray(vat, vat + vlen)
    }
  }
  if (r.pos !== body.length) throw new NodeRuleError('trailing bytes in leaf')
  return found
}
