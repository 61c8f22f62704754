/** The 64-byte file header at offset 0 (FORMAT.md §3). Written once, never rewritten. */
import { ByteReader, ByteWriter, copyOf, readU32 } from './bytes.js'
import { crc32 } from './checksum.js'
import {
  FORMAT_READ_VERSION,
  FORMAT_WRITE_VERSION,
  HEADER_BASE_SIZE_OFFSET,
  HEADER_CREATED_OFFSET,
  HEADER_CRC_OFFSET,
  HEADER_MAGIC_SIZE,
  HEADER_RESERVED_OFFSET,
  HEADER_RESERVED_SIZE,
  HEADER_SALT_SIZE,
  HEADER_SIZE,
  MAGIC,
} from './constants.js'

export interface Header {
  readVersion: number
  writeVersion: number
  flags: number
  salt: Uint8Array
  createdAt: number
  /** file size when compaction wrote the file; 0 for a file created empty */
  baseSize: number
  /** whether the reserved bytes are zero (checked after the versions, FORMAT.md §7) */
  reservedZero: boolean
}

export function newHeader(salt: Uint8Array, createdAt: number, baseSize = 0): Header {
  if (salt.length !== HEADER_SALT_SIZE) throw new RangeError(`salt must be ${HEADER_SALT_SIZE} bytes`)
  return { readVersion: FORMAT_READ_VERSION, writeVersion: FORMAT_WRITE_VERSION, flags: 0, salt, createdAt, baseSize, reservedZero: true }
}

export function encodeHeader(h: Header): Uint8Array {
  const w = new ByteWriter(HEADER_SIZE)
  w.bytes(MAGIC)
  w.u16(h.readVersion)
  w.u16(h.writeVersion)
  w.u32(h.flags)
  w.bytes(h.salt)
  w.u64(h.createdAt)
  w.u64(h.baseSize)
  w.bytes(new Uint8Array(HEADER_RESERVED_SIZE))
  w.u32(crc32(w.result()))
  return copyOf(w.result())
}

export type HeaderProblem =
  | { kind: 'short' }
  | { kind: 'magic' }
  | { kind: 'crc' }

/** A u64 field read without the 2^53 check: header fields are informational, and a later
 *  format version may use the high bits. */
function looseU64(b: Uint8Array, at: number): number {
  return readU32(b, at) + readU32(b, at + 4) * 0x100000000
}

/**
 * Decodes a header; returns a problem instead of throwing so open() can word the error.
 * Checks magic, then the CRC, before interpreting any field.
 */
export function decodeHeader(b: Uint8Array): Header | HeaderProblem {
  if (b.length < HEADER_SIZE) return { kind: 'short' }
  for (let i = 0; i < HEADER_MAGIC_SIZE; i++) if (b[i] !== MAGIC[i]) return { kind: 'magic' }
  if (crc32(b.subarray(0, HEADER_CRC_OFFSET)) !== readU32(b, HEADER_CRC_OFFSET)) return { kind: 'crc' }
  const r = new ByteReader(b, HEADER_MAGIC_SIZE, HEADER_SIZE)
  const readVersion = r.u16()
  const writeVersion = r.u16()
  const flags = r.u32()
  const salt = copyOf(r.bytes(HEADER_SALT_SIZE))
  let reservedZero = true
  for (let i = 0; i < HEADER_RESERVED_SIZE; i++) if (b[HEADER_RESERVED_OFFSET + i] !== 0) reservedZero = false
  return {
    readVersion,
    writeVersion,
    flags,
    salt,
    createdAt: looseU64(b, HEADER_CREATED_OFFSET),
    baseSize: looseU64(b, HEADER_BASE_SIZE_OFFSET),
    reservedZero,
  }
}

export function isHeader(h: Header | HeaderProblem): h is Header {
  return 'salt' in h
}
