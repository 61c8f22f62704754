/** The 64-byte file header at offset 0 (FORMAT.md §3). Written once, never rewritten. */
import { ByteReader, ByteWriter } from './bytes.js'
import { crc32 } from './checksum.js'
import {
  FORMAT_READ_VERSION,
  FORMAT_WRITE_VERSION,
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
}

export function newHeader(salt: Uint8Array, createdAt: number): Header {
  return { readVersion: FORMAT_READ_VERSION, writeVersion: FORMAT_WRITE_VERSION, flags: 0, salt, createdAt }
}

export function encodeHeader(h: Header): Uint8Array {
  const w = new ByteWriter(HEADER_SIZE)
  w.bytes(MAGIC)
  w.u16(h.readVersion)
  w.u16(h.writeVersion)
  w.u32(h.flags)
  w.bytes(h.salt)
  w.u64(h.createdAt)
  w.bytes(new Uint8Array(HEADER_RESERVED_SIZE))
  w.u32(crc32(w.result()))
  return w.result().slice()
}

export type HeaderProblem =
  | { kind: 'short' }
  | { kind: 'magic' }
  | { kind: 'crc' }
  | { kind: 'reserved' }

/** Decodes a header; returns a problem instead of throwing so open() can word the error. */
export function decodeHeader(b: Uint8Array): Header | HeaderProblem {
  if (b.length < HEADER_SIZE) return { kind: 'short' }
  for (let i = 0; i < HEADER_MAGIC_SIZE; i++) if (b[i] !== MAGIC[i]) return { kind: 'magic' }
  const r = new ByteReader(b, HEADER_MAGIC_SIZE, HEADER_SIZE)
  const readVersion = r.u16()
  const writeVersion = r.u16()
  const flags = r.u32()
  const salt = r.bytes(HEADER_SALT_SIZE).slice()
  const createdAt = r.u64()
  const stored = new ByteReader(b, HEADER_CRC_OFFSET, HEADER_SIZE).u32()
  if (crc32(b.subarray(0, HEADER_CRC_OFFSET)) !== stored) return { kind: 'crc' }
  for (let i = 0; i < HEADER_RESERVED_SIZE; i++) if (b[HEADER_RESERVED_OFFSET + i] !== 0) return { kind: 'reserved' }
  return { readVersion, writeVersion, flags, salt, createdAt }
}

export function isHeader(h: Header | HeaderProblem): h is Header {
  return 'salt' in h
}
