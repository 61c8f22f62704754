/**
 * Golden bytes for the format codecs (FORMAT.md §0, §3-§6). Every expected hex string below
 * was derived by hand from FORMAT.md, field by field (the comments split them); the CRC
 * trailers were computed from those hand-written bytes with Python's zlib.crc32, independently
 * of the encoders under test. Then: round trips, and the rules the decoders enforce.
 */
import { crc32 as zcrc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { shortestSeparator } from '../../src/btree/search.js'
import { serializeTree } from '../../src/btree/serialize.js'
import { prefixEnd } from '../../src/db/range-options.js'
import { isCambiumError } from '../../src/errors.js'
import { ByteReader, ByteWriter, commonPrefixLength, compareBytes, DecodeError, varintSize } from '../../src/format/bytes.js'
import { commitRecordBytes, decodeCommit, looksLikeCommit, saltSeed, type CommitRecord } from '../../src/format/commit-record.js'
import { COMMIT_RECORD_SIZE, HEADER_SIZE, KIND_VALUE, MAX_FILE_OFFSET } from '../../src/format/constants.js'
import { decodeHeader, encodeHeader, isHeader, newHeader } from '../../src/format/header.js'
import { packedKey } from '../../src/format/packed-node.js'
import {
  branchRecordSize,
  decodeBranch,
  decodeLeaf,
  encodeBranch,
  encodeLeaf,
  leafRecordSize,
  NodeRuleError,
  type BranchNode,
  type ChildPointer,
  type LeafNode,
  type StoredValue,
  type TreeNode,
} from '../../src/format/node-codec.js'
import { beginRecord, endRecord, readFrame, recordCrcOk } from '../../src/format/record.js'
import type { FileHandle } from '../../src/io/file-io.js'
import { findLastCommit, validCommitAt } from '../../src/store/recover.js'
import { Store } from '../../src/store/store.js'

/** Hex with spaces and `|` field separators allowed. */
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/[\s|]/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const crc = (b: Uint8Array, seed = 0): number => zcrc32(b, seed) >>> 0
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts))

const SALT = Uint8Array.from({ length: 16 }, (_, i) => i) // 00 01 .. 0f
const SEED = crc(SALT)
const CREATED = 1_700_000_000_000 // 0x018bcfe56800

/** Encodes with a fresh writer and returns the bytes. */
function encode(f: (w: ByteWriter) => unknown): Uint8Array {
  const w = new ByteWriter(16)
  f(w)
  return w.result().slice()
}

/** The body of a complete record (drops 6 framing bytes and the 4-byte CRC). */
const bodyOf = (rec: Uint8Array): Uint8Array => rec.subarray(6, rec.length - 4)

/** A FileHandle over bytes in memory. */
function memFile(initial: Uint8Array): FileHandle & { bytes(): Uint8Array } {
  let data = initial.slice()
  return {
    read(buf, pos) {
      const n = Math.max(0, Math.min(buf.length, data.length - pos))
      buf.set(data.subarray(pos, pos + n))
      return n
    },
    write(buf, pos) {
      if (pos + buf.length > data.length) {
        const next = new Uint8Array(pos + buf.length)
        next.set(data)
        data = next
      }
      data.set(buf, pos)
    },
    sync() {},
    truncate(len) {
      data = data.slice(0, len)
    },
    size: () => data.length,
    close() {},
    bytes: () => data,
  }
}

function storeOver(bytes: Uint8Array): Store {
  return new Store(memFile(bytes), 'mem', 1 << 20, bytes.length, bytes.length)
}

function expectCorrupt(f: () => unknown, message?: RegExp): void {
  let err: unknown
  try {
    f()
  } catch (e) {
    err = e
  }
  expect(isCambiumError(err, 'ERR_CORRUPT'), `expected ERR_CORRUPT, got ${String(err)}`).toBe(true)
  if (message) expect((err as Error).message).toMatch(message)
}

// ---------------------------------------------------------------------------------------------
// Golden records

const HEADER_HEX =
  '89 43 41 4d 42 0d 0a 1a' + // magic
  '| 01 00 | 01 00' + // readVersion 1, writeVersion 1
  '| 00 00 00 00' + // flags
  '| 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f' + // salt
  '| 00 68 e5 cf 8b 01 00 00' + // createdAt 1700000000000
  '| 00 00 00 00 00 00 00 00' + // baseSize 0 (created empty)
  '| 00 00 00 00 00 00 00 00 00 00 00 00' + // reserved
  '| 54 58 95 a2' // CRC-32 of bytes 0..59

/** Leaf: "user:1" -> "ab", "user:2" -> "" (two inline entries sharing the prefix "user:"). */
const LEAF_INLINE_HEX =
  '12 00 00 00 | 01 | 00' + // bodyLength 18, kind 1 (leaf), flags 0
  '| 02 00 | 05 | 75 73 65 72 3a' + // count 2, prefixLength 5, "user:"
  '| 00 | 01 | 31 | 02 | 61 62' + // entry: flags 0, suffix "1", value "ab"
  '| 00 | 01 | 32 | 00' + // entry: flags 0, suffix "2", value "" (length 0)
  '| db f3 ad a8' // CRC

/** Leaf: "k" -> out of line {offset 0x0102030405, crc 0xdeadbeef, length 300}, "m" -> "v". */
const LEAF_OOL_HEX =
  '17 00 00 00 | 01 | 00' + // bodyLength 23, leaf
  '| 02 00 | 00' + // count 2, no prefix ("k" and "m" share none)
  '| 01 | 01 | 6b | 05 04 03 02 01 00 | ef be ad de | ac 02' + // flags 1, "k", u48, u32, varint 300
  '| 00 | 01 | 6d | 01 | 76' + // flags 0, "m", value "v"
  '| 32 fa e7 25'
const OOL_REF = { offset: 0x0102030405, crc: 0xdeadbeef, length: 300 }

/** Branch of height 2, children {64, 0x11223344, 3, 150} and {200, 0xaabbccdd, 130, 2000}, separator "m". */
const BRANCH2_HEX =
  '21 00 00 00 | 02 | 00' + // bodyLength 33, kind 2 (branch)
  '| 02 00 | 02 | 00' + // childCount 2, height 2, no prefix (a single separator)
  '| 40 00 00 00 00 00 | 44 33 22 11 | 03 | 96 01' + // child 0: offset 64, crc, count 3, bytes 150
  '| c8 00 00 00 00 00 | dd cc bb aa | 82 01 | d0 0f' + // child 1: offset 200, crc, count 130, bytes 2000
  '| 01 | 6d' + // separator "m"
  '| e0 0c 6c 5e'
const BRANCH2_CHILDREN: ChildPointer[] = [
  { offset: 64, crc: 0x11223344, count: 3, bytes: 150 },
  { offset: 200, crc: 0xaabbccdd, count: 130, bytes: 2000 },
]

/** Branch of height 3 with separators "user:3", "user:7": the prefix "user:" is stored once. */
const BRANCH3_HEX =
  '31 00 00 00 | 02 | 00' + // bodyLength 49
  '| 03 00 | 03 | 05 | 75 73 65 72 3a' + // childCount 3, height 3, prefix "user:"
  '| 64 00 00 00 00 00 | 01 00 00 00 | 01 | 0a' + // offset 100, crc 1, count 1, bytes 10
  '| 2c 01 00 00 00 00 | 02 00 00 00 | 02 | 14' + // offset 300, crc 2, count 2, bytes 20
  '| f4 01 00 00 00 00 | 03 00 00 00 | 03 | 1e' + // offset 500, crc 3, count 3, bytes 30
  '| 01 | 33 | 01 | 37' + // separators "3", "7" after the prefix
  '| 51 2e 3c f8'
const BRANCH3_CHILDREN: ChildPointer[] = [
  { offset: 100, crc: 1, count: 1, bytes: 10 },
  { offset: 300, crc: 2, count: 2, bytes: 20 },
  { offset: 500, crc: 3, count: 3, bytes: 30 },
]

/** A rollback commit, CRC seeded with crc32(00 01 .. 0f). */
const COMMIT_HEX =
  '50 00 00 00 | 04 | 00' + // bodyLength 80, kind 4 (commit), flags 0
  '| 05 00 00 00 00 00 00 00' + // version 5
  '| 7b 68 e5 cf 8b 01 00 00' + // time 1700000000123
  '| 00 10 00 00 00 00 00 00' + // rootOffset 0x1000
  '| 04 03 02 01' + // rootCrc 0x01020304
  '| 02 | 00 | 01 00' + // height 2, reserved, flags 1 (rollback)
  '| e8 03 00 00 00 00 00 00' + // count 1000
  '| 50 c3 00 00 00 00 00 00' + // treeBytes 50000
  '| 00 0f 00 00 00 00 00 00' + // prevOffset 0x0f00
  '| 00 08 00 00 00 00 00 00' + // skipOffset 0x0800
  '| 5a 0f 00 00 00 00 00 00' + // syncedUpTo 0x0f5a
  '| 03 00 00 00 00 00 00 00' + // sourceVersion 3
  '| 9f ca d3 f4' // CRC-32 of salt ‖ framing ‖ body
const COMMIT: CommitRecord = {
  version: 5,
  time: 1_700_000_000_123,
  rootOffset: 0x1000,
  rootCrc: 0x01020304,
  height: 2,
  flags: 1,
  count: 1000,
  treeBytes: 50000,
  prevOffset: 0x0f00,
  skipOffset: 0x0800,
  syncedUpTo: 0x0f5a,
  sourceVersion: 3,
}
const COMMIT_AT = 0x1100

/** A value record holding "xyz". */
const VALUE_HEX = '03 00 00 00 | 03 | 00 | 78 79 7a | ce 31 eb 8c'

// ---------------------------------------------------------------------------------------------

describe('ByteWriter / ByteReader', () => {
  const varints: [number, string][] = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16383, 'ff7f'],
    [16384, '808001'],
    [2 ** 32, '8080808010'],
    [2 ** 53 - 1, 'ffffffffffffff0f'],
  ]
  it.each(varints)('varint %d is %s', (n, h) => {
    const b = encode((w) => w.varint(n))
    expect(toHex(b)).toBe(h)
    expect(varintSize(n)).toBe(b.length)
    const r = new ByteReader(b)
    expect(r.varint()).toBe(n)
    expect(r.pos).toBe(b.length)
  })

  it('rejects a varint longer than 8 bytes and a truncated one', () => {
    expect(() => new ByteReader(hex('80 80 80 80 80 80 80 80 01')).varint()).toThrow(DecodeError)
    expect(() => new ByteReader(hex('80 80')).varint()).toThrow(DecodeError)
    expect(() => new ByteReader(new Uint8Array(0)).varint()).toThrow(DecodeError)
  })

  it.each([
    [0, '000000000000'],
    [127, '7f0000000000'],
    [128, '800000000000'],
    [2 ** 32, '000000000100'],
    [2 ** 40 + 5, '050000000001'],
    [MAX_FILE_OFFSET, 'ffffffffffff'],
  ] as [number, string][])('u48 %d is %s', (n, h) => {
    const b = encode((w) => w.u48(n))
    expect(toHex(b)).toBe(h)
    expect(new ByteReader(b).u48()).toBe(n)
  })

  it.each([
    [0, '0000000000000000'],
    [127, '7f00000000000000'],
    [128, '8000000000000000'],
    [2 ** 32, '0000000001000000'],
    [2 ** 53 - 1, 'ffffffffffff1f00'],
  ] as [number, string][])('u64 %d is %s', (n, h) => {
    const b = encode((w) => w.u64(n))
    expect(toHex(b)).toBe(h)
    expect(new ByteReader(b).u64()).toBe(n)
  })

  it('rejects a u64 at or above 2^53', () => {
    expect(() => new ByteReader(hex('00 00 00 00 00 00 20 00')).u64()).toThrow(DecodeError)
    expect(() => new ByteReader(hex('ff ff ff ff ff ff ff ff')).u64()).toThrow(DecodeError)
  })

  it('writes u16 and u32 little-endian', () => {
    expect(toHex(encode((w) => w.u16(0x1234)))).toBe('3412')
    expect(toHex(encode((w) => w.u32(0xdeadbeef)))).toBe('efbeadde')
    const r = new ByteReader(hex('34 12 ef be ad de'))
    expect(r.u16()).toBe(0x1234)
    expect(r.u32()).toBe(0xdeadbeef)
  })

  it('grows past its initial capacity and patches a reserved u32', () => {
    const w = new ByteWriter(1)
    w.u32(0)
    for (let i = 0; i < 300; i++) w.u8(i & 0xff)
    w.patchU32(0, 0x01020304)
    const b = w.result()
    expect(b.length).toBe(304)
    expect(toHex(b.subarray(0, 6))).toBe('040302010001')
    expect(b[303]).toBe(299 & 0xff)
  })

  it('never reads past its end bound', () => {
    const r = new ByteReader(hex('01 02 03 04'), 1, 3)
    expect(r.u16()).toBe(0x0302)
    expect(() => r.u8()).toThrow(DecodeError)
    expect(() => new ByteReader(hex('01 02'), 0, 2).bytes(3)).toThrow(DecodeError)
  })
})

describe('compareBytes (the key order)', () => {
  const cmp = (a: string, b: string): number => Math.sign(compareBytes(hex(a), hex(b)))
  it('orders bytewise, unsigned, shorter first on a common prefix', () => {
    expect(cmp('', '')).toBe(0)
    expect(cmp('61', '61')).toBe(0)
    expect(cmp('61', '62')).toBe(-1)
    expect(cmp('62', '61')).toBe(1)
    expect(cmp('61', '6100')).toBe(-1) // a prefix sorts first
    expect(cmp('', '00')).toBe(-1)
    expect(cmp('7f', '80')).toBe(-1) // unsigned: 0x80 is not negative
    expect(cmp('ff', '0000')).toBe(1) // the first differing byte decides, not the length
    expect(cmp('6162', '61ff')).toBe(-1)
  })

  it('agrees with Buffer.compare on random byte strings', () => {
    let seed = 7
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed % n
    }
    for (let i = 0; i < 2000; i++) {
      const a = Uint8Array.from({ length: rnd(5) }, () => [0, 1, 0x7f, 0x80, 0xff][rnd(5)]!)
      const b = Uint8Array.from({ length: rnd(5) }, () => [0, 1, 0x7f, 0x80, 0xff][rnd(5)]!)
      expect(Math.sign(compareBytes(a, b))).toBe(Buffer.compare(a, b))
    }
  })

  it('commonPrefixLength', () => {
    expect(commonPrefixLength(utf8('user:1'), utf8('user:2'))).toBe(5)
    expect(commonPrefixLength(utf8('abc'), utf8('abc'))).toBe(3)
    expect(commonPrefixLength(utf8('ab'), utf8('abc'))).toBe(2)
    expect(commonPrefixLength(utf8(''), utf8('a'))).toBe(0)
  })
})

describe('shortestSeparator (truncated separators, FORMAT.md §5)', () => {
  const sep = (a: string, b: string): string => Buffer.from(shortestSeparator(utf8(a), utf8(b))).toString()
  it('is the shortest prefix of the right key greater than the left key', () => {
    expect(sep('abc', 'abd')).toBe('abd')
    expect(sep('abc', 'b')).toBe('b')
    expect(sep('abc', 'bcd')).toBe('b')
    expect(sep('ab', 'abc')).toBe('abc') // left is a prefix of right
    expect(sep('a', 'abzz')).toBe('ab')
    expect(sep('user:1099', 'user:2')).toBe('user:2')
    expect(sep('book:fantasy:9798959705596:title', 'book:fantasy:9798959705596:year')).toBe('book:fantasy:9798959705596:y')
  })

  it('routes correctly: left < s <= right, and no shorter prefix of right would', () => {
    let seed = 11
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed % n
    }
    for (let i = 0; i < 2000; i++) {
      const a = Uint8Array.from({ length: 1 + rnd(4) }, () => [0x61, 0x62, 0x00, 0xff][rnd(4)]!)
      const b = Uint8Array.from({ length: 1 + rnd(4) }, () => [0x61, 0x62, 0x00, 0xff][rnd(4)]!)
      const c = compareBytes(a, b)
      if (c === 0) continue
      const [left, right] = c < 0 ? [a, b] : [b, a]
      const s = shortestSeparator(left, right)
      expect(compareBytes(left, s)).toBeLessThan(0)
      expect(compareBytes(s, right)).toBeLessThanOrEqual(0)
      expect(toHex(right.subarray(0, s.length))).toBe(toHex(s))
      expect(compareBytes(left, right.subarray(0, s.length - 1))).toBeGreaterThanOrEqual(0)
    }
  })
})

describe('prefixEnd (the upper bound of a prefix range)', () => {
  it('increments the last byte that is not 0xff and drops what follows', () => {
    expect(toHex(prefixEnd(utf8('ab'))!)).toBe('6163')
    expect(toHex(prefixEnd(hex('61 ff'))!)).toBe('62')
    expect(toHex(prefixEnd(hex('00'))!)).toBe('01')
    expect(toHex(prefixEnd(hex('61 fe ff ff'))!)).toBe('61ff')
    expect(prefixEnd(hex('ff ff'))).toBeUndefined()
    expect(prefixEnd(new Uint8Array(0))).toBeUndefined()
  })

  it('is above every key with the prefix and at or below every greater key without it', () => {
    const p = hex('61 ff')
    const end = prefixEnd(p)!
    for (const k of ['61ff', '61ff00', '61ffffff']) expect(compareBytes(hex(k), end)).toBeLessThan(0)
    for (const k of ['62', '6200', '63']) expect(compareBytes(hex(k), end)).toBeGreaterThanOrEqual(0)
    expect(prefixEnd(utf8('ab'))).not.toBe(undefined)
  })
})

describe('header (FORMAT.md §3)', () => {
  it('encodes the golden bytes', () => {
    const b = encodeHeader(newHeader(SALT, CREATED))
    expect(b.length).toBe(HEADER_SIZE)
    expect(toHex(b)).toBe(toHex(hex(HEADER_HEX)))
  })

  it('decodes what it encodes', () => {
    const h = decodeHeader(hex(HEADER_HEX))
    expect(isHeader(h)).toBe(true)
    expect(h).toEqual({ readVersion: 1, writeVersion: 1, flags: 0, salt: SALT, createdAt: CREATED, baseSize: 0, reservedZero: true })
  })

  it('reports a short header, bad magic, bad CRC and non-zero reserved bytes', () => {
    const good = hex(HEADER_HEX)
    expect(decodeHeader(good.subarray(0, 63))).toEqual({ kind: 'short' })
    const magic = good.slice()
    magic[0] = 0x88
    expect(decodeHeader(magic)).toEqual({ kind: 'magic' })
    const lf = good.slice()
    lf[6] = 0x0d // CR LF -> CR CR: newline translation
    expect(decodeHeader(lf)).toEqual({ kind: 'magic' })
    const flipped = good.slice()
    flipped[20]! ^= 1
    expect(decodeHeader(flipped)).toEqual({ kind: 'crc' })
    const reserved = good.slice()
    reserved[50] = 1
    Buffer.from(reserved.buffer).writeUInt32LE(crc(reserved.subarray(0, 60)), 60)
    // Reserved bytes are reported, not rejected here: open() checks the versions first (FORMAT.md §7).
    const r = decodeHeader(reserved)
    expect(isHeader(r) && r.reservedZero).toBe(false)
  })

  it('passes readVersion, writeVersion and flags through for the open checks', () => {
    const b = hex(HEADER_HEX)
    b[8] = 2 // readVersion 2
    b[10] = 3 // writeVersion 3
    b[12] = 4 // flags 4
    Buffer.from(b.buffer).writeUInt32LE(crc(b.subarray(0, 60)), 60)
    expect(decodeHeader(b)).toMatchObject({ readVersion: 2, writeVersion: 3, flags: 4 })
  })
})

describe('record framing (FORMAT.md §4)', () => {
  it('frames a value record: length, kind, flags, body, CRC over framing and body', () => {
    const b = encode((w) => {
      const start = beginRecord(w, KIND_VALUE)
      w.bytes(utf8('xyz'))
      expect(endRecord(w, start)).toBe(0x8ceb31ce)
    })
    expect(toHex(b)).toBe(toHex(hex(VALUE_HEX)))
    expect(readFrame(b, 0)).toEqual({ bodyLength: 3, kind: 3, flags: 0 })
    expect(recordCrcOk(b, 0, 3)).toBe(true)
    b[7]! ^= 0x20
    expect(recordCrcOk(b, 0, 3)).toBe(false)
  })

  it('seeds only commit CRCs, with crc32(salt): the same as the CRC of salt ‖ record', () => {
    expect(saltSeed(SALT)).toBe(SEED)
    const rec = hex(COMMIT_HEX)
    const stored = Buffer.from(rec).readUInt32LE(86)
    expect(stored).toBe(crc(rec.subarray(0, 86), SEED))
    expect(stored).toBe(crc(cat(SALT, rec.subarray(0, 86))))
    expect(recordCrcOk(rec, 0, 80, SEED)).toBe(true)
    expect(recordCrcOk(rec, 0, 80)).toBe(false)
  })
})

describe('leaf records (FORMAT.md §5)', () => {
  it('encodes two inline entries sharing a prefix', () => {
    const keys = [utf8('user:1'), utf8('user:2')]
    const values = [utf8('ab'), utf8('')]
    const b = encode((w) => expect(encodeLeaf(w, keys, values)).toBe(0xa8adf3db))
    expect(toHex(b)).toBe(toHex(hex(LEAF_INLINE_HEX)))
    expect(leafRecordSize(keys, values)).toBe(b.length)
    const n = decodeLeaf(bodyOf(b), 1000)
    expect(n.keys.map((k) => Buffer.from(k).toString())).toEqual(['user:1', 'user:2'])
    expect(n.values.map((v) => Buffer.from(v as Uint8Array).toString())).toEqual(['ab', ''])
    expect(n.count).toBe(2)
    expect(n.height).toBe(1)
  })

  it('encodes an out-of-line entry as offset, CRC and length', () => {
    const keys = [utf8('k'), utf8('m')]
    const values: StoredValue[] = [OOL_REF, utf8('v')]
    const b = encode((w) => expect(encodeLeaf(w, keys, values)).toBe(0x25e7fa32))
    expect(toHex(b)).toBe(toHex(hex(LEAF_OOL_HEX)))
    expect(leafRecordSize(keys, values)).toBe(b.length)
    const n = decodeLeaf(bodyOf(b), OOL_REF.offset + 1)
    expect(n.values[0]).toEqual(OOL_REF)
    expect(Buffer.from(n.values[1] as Uint8Array).toString()).toBe('v')
  })

  it('round-trips many entries with a long common prefix and a single-entry leaf', () => {
    const keys = Array.from({ length: 200 }, (_, i) => utf8(`tenant:42:order:${String(i).padStart(5, '0')}`))
    const values = keys.map((_, i) => (i % 7 === 0 ? { offset: 64 + i, crc: i * 977, length: 257 + i } : utf8('x'.repeat(i % 30))))
    const b = encode((w) => encodeLeaf(w, keys, values))
    expect(b.length).toBe(leafRecordSize(keys, values))
    // the prefix "tenant:42:order:00" is stored once
    expect(b[8]).toBe('tenant:42:order:00'.length)
    const n = decodeLeaf(bodyOf(b), 1_000_000)
    expect(n.keys.map(toHex)).toEqual(keys.map(toHex))
    expect(n.values.map((v) => (v instanceof Uint8Array ? toHex(v) : v))).toEqual(values.map((v) => (v instanceof Uint8Array ? toHex(v) : v)))

    const one = encode((w) => encodeLeaf(w, [utf8('only')], [utf8('1')]))
    expect(toHex(bodyOf(one))).toBe('0100' + '00' + '00' + '04' + toHex(utf8('only')) + '01' + '31') // no prefix with one key
  })

  it('sizes an over-threshold value as out of line', () => {
    const v = new Uint8Array(300)
    // flags 1 + suffix length 1 + "k" 1 + u48 6 + u32 4 + varint(300) 2, after count 2 and prefixLength 1
    expect(leafRecordSize([utf8('k')], [v], 256)).toBe(10 + 3 + 1 + 1 + 1 + 6 + 4 + 2)
    expect(leafRecordSize([utf8('k')], [v.subarray(0, 256)], 256)).toBe(10 + 3 + 1 + 1 + 1 + 2 + 256)
  })
})

describe('branch records (FORMAT.md §5)', () => {
  it('encodes a branch with 2 children', () => {
    const b = encode((w) => expect(encodeBranch(w, 2, [utf8('m')], BRANCH2_CHILDREN)).toBe(0x5e6c0ce0))
    expect(toHex(b)).toBe(toHex(hex(BRANCH2_HEX)))
    expect(branchRecordSize([utf8('m')], BRANCH2_CHILDREN)).toBe(b.length)
    const n = decodeBranch(bodyOf(b), 1000)
    expect(n).toEqual({ height: 2, keys: [utf8('m')], children: BRANCH2_CHILDREN, count: 133, edit: 0 })
  })

  it('encodes a branch with 3 children whose separators share a prefix', () => {
    const seps = [utf8('user:3'), utf8('user:7')]
    const b = encode((w) => expect(encodeBranch(w, 3, seps, BRANCH3_CHILDREN)).toBe(0xf83c2e51))
    expect(toHex(b)).toBe(toHex(hex(BRANCH3_HEX)))
    expect(branchRecordSize(seps, BRANCH3_CHILDREN)).toBe(b.length)
    const n = decodeBranch(bodyOf(b), 501)
    expect(n.keys.map((k) => Buffer.from(k).toString())).toEqual(['user:3', 'user:7'])
    expect(n.children).toEqual(BRANCH3_CHILDREN)
    expect(n.height).toBe(3)
    expect(n.count).toBe(6)
  })
})

describe('value records (FORMAT.md §5b)', () => {
  it('are read back through a leaf reference, checking CRC and length', () => {
    const file = cat(new Uint8Array(64), hex(VALUE_HEX))
    const s = storeOver(file)
    expect(Buffer.from(s.value({ offset: 64, crc: 0x8ceb31ce, length: 3 })).toString()).toBe('xyz')
    expectCorrupt(() => s.value({ offset: 64, crc: 0x8ceb31ce, length: 4 }), /length/)
    expectCorrupt(() => s.value({ offset: 64, crc: 0x12345678, length: 3 }), /checksum differs/)
  })
})

describe('commit records (FORMAT.md §6)', () => {
  it('encodes the golden bytes with a salted CRC', () => {
    expect(toHex(commitRecordBytes(COMMIT, SEED))).toBe(toHex(hex(COMMIT_HEX)))
    expect(COMMIT_RECORD_SIZE).toBe(hex(COMMIT_HEX).length)
  })

  it('decodes what it encodes, at any position in a buffer', () => {
    expect(decodeCommit(hex(COMMIT_HEX), 0, SEED, COMMIT_AT)).toEqual(COMMIT)
    const padded = cat(hex('ff ff ff'), hex(COMMIT_HEX), hex('ee'))
    expect(looksLikeCommit(padded, 3)).toBe(true)
    expect(decodeCommit(padded, 3, SEED, COMMIT_AT)).toEqual(COMMIT)
  })

  it('is not a commit with another salt, a flipped bit, another kind or a short buffer', () => {
    const b = hex(COMMIT_HEX)
    expect(decodeCommit(b, 0, saltSeed(new Uint8Array(16)), COMMIT_AT)).toBeUndefined()
    expect(decodeCommit(b, 0, 0, COMMIT_AT)).toBeUndefined()
    for (const i of [0, 4, 5, 6, 40, 85, 86, 89]) {
      const f = b.slice()
      f[i]! ^= 0x10
      expect(decodeCommit(f, 0, SEED, COMMIT_AT), `bit flip at byte ${i}`).toBeUndefined()
    }
    expect(decodeCommit(b.subarray(0, 89), 0, SEED, COMMIT_AT)).toBeUndefined()
    expect(looksLikeCommit(hex(LEAF_INLINE_HEX), 0)).toBe(false)
  })

  /** The golden commit with one field changed and the salted CRC recomputed. */
  function variant(change: (b: Buffer) => void): Uint8Array {
    const b = Buffer.from(hex(COMMIT_HEX))
    change(b.subarray(6, 86))
    b.writeUInt32LE(crc(b.subarray(0, 86), SEED), 86)
    return Uint8Array.from(b)
  }
  const u64 = (body: Buffer, at: number, v: number): void => {
    body.writeUInt32LE(v % 2 ** 32, at)
    body.writeUInt32LE(Math.floor(v / 2 ** 32), at + 4)
  }

  it('enforces the field rules', () => {
    expect(decodeCommit(variant(() => {}), 0, SEED, COMMIT_AT)).toEqual(COMMIT) // the helper itself
    const rejected: [string, (b: Buffer) => void, number?][] = [
      ['reserved byte set', (b) => void (b[29] = 1)],
      ['unknown flag', (b) => b.writeUInt16LE(3, 30)],
      ['root at the commit', (b) => u64(b, 16, COMMIT_AT)],
      ['root after the commit', (b) => u64(b, 16, COMMIT_AT + 100)],
      ['prev at the commit', (b) => u64(b, 48, COMMIT_AT)],
      ['skip after prev', (b) => u64(b, 56, 0x0f01)],
      ['syncedUpTo after the commit', (b) => u64(b, 64, COMMIT_AT + 1)],
      ['root 0 with a height', (b) => u64(b, 16, 0)],
      ['a root with height 0', (b) => void (b[28] = 0)],
      ['no root but a count', (b) => ((b[28] = 0), u64(b, 16, 0))],
      ['a u64 at 2^53', (b) => u64(b, 32, 2 ** 53)],
    ]
    for (const [what, change] of rejected) expect(decodeCommit(variant(change), 0, SEED, COMMIT_AT), what).toBeUndefined()
    // accepted edge cases: skip = prev, syncedUpTo = own offset, empty tree
    expect(decodeCommit(variant((b) => u64(b, 56, 0x0f00)), 0, SEED, COMMIT_AT)).toMatchObject({ skipOffset: 0x0f00 })
    expect(decodeCommit(variant((b) => u64(b, 64, COMMIT_AT)), 0, SEED, COMMIT_AT)).toMatchObject({ syncedUpTo: COMMIT_AT })
    const empty = variant((b) => (u64(b, 16, 0), (b[28] = 0), u64(b, 32, 0), b.writeUInt32LE(0, 24)))
    expect(decodeCommit(empty, 0, SEED, COMMIT_AT)).toMatchObject({ rootOffset: 0, height: 0, count: 0 })
  })
})

describe('node decoders reject damage', () => {
  const leafBody = (s: string): Uint8Array => hex(s)
  const rule = (f: () => unknown): void => expect(f).toThrow(NodeRuleError)
  const decodeErr = (f: () => unknown): void => expect(f).toThrow(DecodeError)

  it('unknown entry flags (including the reserved expiry bit)', () => {
    rule(() => decodeLeaf(leafBody('01 00 | 00 | 02 | 01 61 | 01 31'), 1000))
    rule(() => decodeLeaf(leafBody('01 00 | 00 | 80 | 01 61 | 01 31'), 1000))
    expect(() => decodeLeaf(leafBody('01 00 | 00 | 00 | 01 61 | 01 31'), 1000)).not.toThrow()
  })

  it('keys out of order or repeated, in leaves and branches', () => {
    rule(() => decodeLeaf(leafBody('02 00 | 00 | 00 01 62 01 31 | 00 01 61 01 32'), 1000))
    rule(() => decodeLeaf(leafBody('02 00 | 00 | 00 01 61 01 31 | 00 01 61 01 32'), 1000))
    // the same keys behind a prefix: "ab" > "aa" fine, "aa" after "ab" not
    rule(() => decodeLeaf(leafBody('02 00 | 01 61 | 00 01 62 00 | 00 01 61 00'), 1000))
    const seps = (a: string, b: string): Uint8Array =>
      hex('03 00 | 02 | 00' + '| 40 00 00 00 00 00 00 00 00 00 01 01'.repeat(3) + `| 01 ${a} | 01 ${b}`)
    expect(() => decodeBranch(seps('61', '62'), 1000)).not.toThrow()
    rule(() => decodeBranch(seps('62', '61'), 1000))
    rule(() => decodeBranch(seps('61', '61'), 1000))
  })

  it('pointers that do not point backwards', () => {
    const body = bodyOf(hex(LEAF_OOL_HEX))
    rule(() => decodeLeaf(body, OOL_REF.offset)) // value record at the leaf's own offset
    rule(() => decodeLeaf(body, OOL_REF.offset - 1))
    const br = bodyOf(hex(BRANCH2_HEX))
    rule(() => decodeBranch(br, 200)) // child 1 at the branch's own offset
    rule(() => decodeBranch(br, 100))
    expect(() => decodeBranch(br, 201)).not.toThrow()
  })

  it('every truncation of a body', () => {
    for (const rec of [LEAF_INLINE_HEX, LEAF_OOL_HEX]) {
      const body = bodyOf(hex(rec))
      for (let n = 0; n < body.length; n++) expect(() => decodeLeaf(body.subarray(0, n), 2 ** 47), `leaf cut at ${n}`).toThrow()
    }
    for (const rec of [BRANCH2_HEX, BRANCH3_HEX]) {
      const body = bodyOf(hex(rec))
      for (let n = 0; n < body.length; n++) expect(() => decodeBranch(body.subarray(0, n), 2 ** 47), `branch cut at ${n}`).toThrow()
    }
    decodeErr(() => decodeLeaf(bodyOf(hex(LEAF_INLINE_HEX)).subarray(0, 10), 1000))
  })

  it('a varint longer than 8 bytes inside a body', () => {
    decodeErr(() => decodeLeaf(leafBody('01 00 | 80 80 80 80 80 80 80 80 00 | 00 01 61 01 31'), 1000))
    decodeErr(() => decodeLeaf(leafBody('01 00 | 00 | 00 | 81 80 80 80 80 80 80 80 00 61'), 1000))
  })

  it('trailing bytes, an empty leaf, a branch with one child, impossible heights', () => {
    rule(() => decodeLeaf(cat(bodyOf(hex(LEAF_INLINE_HEX)), hex('00')), 1000))
    rule(() => decodeBranch(cat(bodyOf(hex(BRANCH2_HEX)), hex('00')), 1000))
    rule(() => decodeLeaf(leafBody('00 00 | 00'), 1000))
    rule(() => decodeBranch(hex('01 00 | 02 | 00 | 40 00 00 00 00 00 00 00 00 00 01 01'), 1000))
    const withHeight = (h: number): Uint8Array => {
      const b = bodyOf(hex(BRANCH2_HEX)).slice()
      b[2] = h
      return b
    }
    rule(() => decodeBranch(withHeight(1), 1000))
    rule(() => decodeBranch(withHeight(65), 1000))
    expect(decodeBranch(withHeight(64), 1000).height).toBe(64)
  })
})

describe('reading records by pointer (the Merkle check, FORMAT.md §5)', () => {
  // A file image: 64 bytes standing in for a header, then the golden inline leaf at 64.
  const leaf = hex(LEAF_INLINE_HEX)
  const file = cat(new Uint8Array(64), leaf, hex(VALUE_HEX))
  const ptr = { offset: 64, crc: 0xa8adf3db, count: 2, bytes: leaf.length }

  it('returns the node when framing, CRC and the pointer CRC agree', () => {
    const n = storeOver(file).decodeNode(ptr) as LeafNode
    expect(n.keys.map((k) => Buffer.from(k).toString())).toEqual(['user:1', 'user:2'])
    const p = storeOver(file).node(ptr)
    expect([0, 1].map((i) => Buffer.from(packedKey(p, i, (len) => new Uint8Array(len))).toString())).toEqual(['user:1', 'user:2'])
  })

  it('rejects a CRC the pointer does not name (a substituted record)', () => {
    expectCorrupt(() => storeOver(file).node({ ...ptr, crc: 0x12345678 }), /checksum differs/)
  })

  it('rejects a record whose bytes fail their own CRC', () => {
    const bad = file.slice()
    bad[64 + 12]! ^= 1
    expectCorrupt(() => storeOver(bad).node(ptr), /checksum mismatch/)
  })

  it('rejects a record of the wrong kind and non-zero record flags', () => {
    expectCorrupt(() => storeOver(file).node({ ...ptr, offset: 64 + leaf.length, crc: 0x8ceb31ce }), /kind/)
    for (const flags of [1, 2, 0x80]) {
      const f = file.slice()
      f[64 + 5] = flags
      expectCorrupt(() => storeOver(f).node(ptr), /flags/)
    }
    const unknownKind = file.slice()
    unknownKind[64 + 4] = 5
    expectCorrupt(() => storeOver(unknownKind).node(ptr), /kind/)
  })

  it('rejects a pointer outside the file', () => {
    expectCorrupt(() => storeOver(file).node({ ...ptr, offset: file.length }), /outside/)
  })
})

describe('serializing a tree (FORMAT.md §1, §5b)', () => {
  it('writes value records before their leaf, children before parents, with exact aggregates', () => {
    const big = new Uint8Array(300).fill(0x42)
    const l1: LeafNode = { height: 1, keys: [utf8('a'), utf8('b')], values: [utf8('1'), big], count: 2, edit: 1 }
    const l2: LeafNode = { height: 1, keys: [utf8('m')], values: [utf8('3')], count: 1, edit: 1 }
    const root: BranchNode = { height: 2, keys: [utf8('m')], children: [l1, l2], count: 3, edit: 1 }
    const w = new ByteWriter()
    const base = 1000
    const written: [number, TreeNode][] = []
    const ptr = serializeTree({ w, base, inlineMax: 256, written: (o, _start, _end, node) => written.push([o, node!()]) }, root)
    const out = w.result()

    // Walk the records by their lengths: value, leaf, leaf, branch, tiling the output exactly.
    const kinds: number[] = []
    const offsets: number[] = []
    for (let p = 0; p < out.length; ) {
      const f = readFrame(out, p)
      expect(recordCrcOk(out, p, f.bodyLength)).toBe(true)
      kinds.push(f.kind)
      offsets.push(base + p)
      p += f.bodyLength + 10
      expect(p).toBeLessThanOrEqual(out.length)
    }
    expect(kinds).toEqual([3, 1, 1, 2])
    expect(ptr.offset).toBe(offsets[3])
    expect(ptr.count).toBe(3)
    expect(ptr.bytes).toBe(out.length) // every record below the root, value record included
    expect(written.map(([o]) => o)).toEqual(offsets.slice(1))

    const branch = decodeBranch(bodyOf(out.subarray(offsets[3]! - base)), ptr.offset)
    expect(branch.children.map((c) => (c as ChildPointer).offset)).toEqual([offsets[1], offsets[2]])
    expect(branch.children.map((c) => c.count)).toEqual([2, 1])
    expect((branch.children[0] as ChildPointer).bytes).toBe(offsets[2]! - base) // value record + leaf 1
    const leaf1 = decodeLeaf(bodyOf(out.subarray(offsets[1]! - base, offsets[2]! - base)), offsets[1]!)
    expect(leaf1.values[1]).toEqual({ offset: base, crc: Buffer.from(out).readUInt32LE(306), length: 300 })
  })

  it('does not rewrite nodes already on disk', () => {
    const onDisk: ChildPointer = { offset: 64, crc: 7, count: 5, bytes: 500 }
    const l2: LeafNode = { height: 1, keys: [utf8('z')], values: [utf8('9')], count: 1, edit: 1 }
    const root: BranchNode = { height: 2, keys: [utf8('z')], children: [onDisk, l2], count: 6, edit: 1 }
    const w = new ByteWriter()
    const ptr = serializeTree({ w, base: 1000, inlineMax: 256, written: () => {} }, root)
    expect(readFrame(w.result(), 0).kind).toBe(1) // only the new leaf, then the branch
    expect(ptr.count).toBe(6)
    expect(ptr.bytes).toBe(500 + w.result().length)
    expect(serializeTree({ w: new ByteWriter(), base: 0, inlineMax: 256, written: () => {} }, onDisk)).toBe(onDisk)
  })
})

describe('commit look-alikes (FORMAT.md §6, §7)', () => {
  /**
   * A file: header, commit v0, then a commit of version 1 whose value record holds a
   * commit look-alike built WITH the salt; the real commit record is torn.
   */
  function fileWithLookAlike(lookAlikeSynced: (valueStart: number) => number, seed = SEED) {
    const w = new ByteWriter()
    w.bytes(encodeHeader(newHeader(SALT, CREATED)))
    const c0: CommitRecord = { ...COMMIT, version: 0, time: CREATED, rootOffset: 0, rootCrc: 0, height: 0, flags: 0, count: 0, treeBytes: 0, prevOffset: 0, skipOffset: 0, syncedUpTo: 64, sourceVersion: 0 }
    w.bytes(commitRecordBytes(c0, SEED))
    const valueStart = w.pos
    const lookAt = valueStart + 6
    const fake: CommitRecord = { ...c0, version: 999, prevOffset: 64, syncedUpTo: lookAlikeSynced(valueStart) }
    const v = beginRecord(w, KIND_VALUE)
    w.bytes(commitRecordBytes(fake, seed))
    w.bytes(new Uint8Array(200).fill(0x20))
    const vcrc = endRecord(w, v)
    const leafStart = w.pos
    const lcrc = encodeLeaf(w, [utf8('evil')], [{ offset: valueStart, crc: vcrc, length: 290 }])
    const real: CommitRecord = { ...c0, version: 1, rootOffset: leafStart, rootCrc: lcrc, height: 1, count: 1, treeBytes: w.pos - valueStart, prevOffset: 64, skipOffset: 64, syncedUpTo: valueStart }
    const realAt = w.pos
    w.bytes(commitRecordBytes(real, SEED))
    return { bytes: w.result().slice(), lookAt, realAt }
  }

  it('the intact file opens at the real commit, not the look-alike inside its value', () => {
    const f = fileWithLookAlike((valueStart) => valueStart)
    const h = memFile(f.bytes)
    expect(findLastCommit(h, SEED, f.bytes.length)).toMatchObject({ offset: f.realAt, commit: { version: 1 } })
  })

  it('a torn tail falls back past a look-alike that names a syncedUpTo before its value record', () => {
    const f = fileWithLookAlike((valueStart) => valueStart) // a real boundary: the walk steps over the value record
    const torn = f.bytes.subarray(0, f.bytes.length - 10)
    expect(validCommitAt(memFile(torn), f.lookAt, SEED)).toBeUndefined()
    expect(findLastCommit(memFile(torn), SEED, torn.length)).toMatchObject({ offset: 64, commit: { version: 0 } })
  })

  it('a torn tail falls back past a look-alike made without this file\'s salt', () => {
    const otherSalt = saltSeed(Uint8Array.from({ length: 16 }, () => 0xaa))
    // syncedUpTo = its own offset makes the framing walk vacuous: only the salt stops it.
    const f = fileWithLookAlike((valueStart) => valueStart + 6, otherSalt)
    const torn = f.bytes.subarray(0, f.bytes.length - 10)
    expect(validCommitAt(memFile(torn), f.lookAt, SEED)).toBeUndefined()
    expect(findLastCommit(memFile(torn), SEED, torn.length)).toMatchObject({ offset: 64, commit: { version: 0 } })
  })
})
