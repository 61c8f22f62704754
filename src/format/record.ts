/**
 * Record framing (FORMAT.md §4): u32 bodyLength | u8 kind | u8 flags | body | u32 crc.
 * The CRC covers framing and body; commit records seed it with the salt's CRC.
 */
import { ByteWriter, readU32 } from './bytes.js'
import { crc32 } from './checksum.js'
import { RECORD_HEADER_SIZE, RECORD_KIND_OFFSET, RECORD_OVERHEAD } from './constants.js'

/** Reserves the framing bytes of a record starting at w.pos; returns its start. */
export function beginRecord(w: ByteWriter, kind: number, flags = 0): number {
  const start = w.pos
  w.u32(0)
  w.u8(kind)
  w.u8(flags)
  return start
}

/** Patches the body length, appends the CRC and returns it. */
export function endRecord(w: ByteWriter, start: number, seed = 0): number {
  w.patchU32(start, w.pos - start - RECORD_HEADER_SIZE)
  const crc = crc32(w.buf.subarray(start, w.pos), seed)
  w.u32(crc)
  return crc
}

export interface RecordFrame {
  bodyLength: number
  kind: number
  flags: number
}

/** Reads the framing at `at` in `b` (which must hold RECORD_HEADER_SIZE bytes there). */
export function readFrame(b: Uint8Array, at: number): RecordFrame {
  return { bodyLength: readU32(b, at), kind: b[at + RECORD_KIND_OFFSET]!, flags: b[at + RECORD_KIND_OFFSET + 1]! }
}

/** Whether the complete record at `at` (framing, body, trailer all inside `b`) verifies. */
export function recordCrcOk(b: Uint8Array, at: number, bodyLength: number, seed = 0): boolean {
  const end = at + RECORD_HEADER_SIZE + bodyLength
  return crc32(b.subarray(at, end), seed) === readU32(b, end)
}

export function recordSize(bodyLength: number): number {
  return bodyLength + RECORD_OVERHEAD
}
