/**
 * Bounded, non-throwing record reads for the checker. Every read is limited by the end of
 * the data (never by a length field alone), and a failure comes back as a message, so one
 * damaged record never stops the check of its siblings.
 */
import { readU32 } from '../format/bytes.js'
import { crc32 } from '../format/checksum.js'
import {
  HEADER_SIZE,
  KIND_BRANCH,
  KIND_COMMIT,
  KIND_LEAF,
  KIND_VALUE,
  RECORD_HEADER_SIZE,
  RECORD_OVERHEAD,
} from '../format/constants.js'
import type { ValueRef } from '../format/node-codec.js'
import type { FileHandle } from '../io/file-io.js'
import { NODE_READ_GUESS } from '../store/store.js'
import { describeError, hex32 } from './report.js'

/** Records larger than this are checksummed in pieces of this size. */
export const CRC_CHUNK = 1 << 20

export const KIND_NAMES: Record<number, string> = {
  [KIND_LEAF]: 'leaf',
  [KIND_BRANCH]: 'branch',
  [KIND_VALUE]: 'value record',
  [KIND_COMMIT]: 'commit record',
}

export function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? `record of unknown kind ${kind}`
}

export interface RecordOk {
  ok: true
  kind: number
  body: Uint8Array
  /** the CRC in the record's trailer (verified) */
  crc: number
  /** whole record, framing included */
  size: number
}

export interface RecordBad {
  ok: false
  message: string
}

export class FileReader {
  constructor(
    readonly handle: FileHandle,
    readonly size: number,
  ) {}

  /** Up to `length` bytes at `offset` (fewer at the end of the file). Throws on I/O errors. */
  read(offset: number, length: number): Uint8Array {
    const n = Math.max(0, Math.min(length, this.size - offset))
    const buf = new Uint8Array(n)
    if (n === 0) return buf
    const got = this.handle.read(buf, offset)
    return got === n ? buf : buf.subarray(0, got)
  }

  /** Whether [from, to) holds only zero bytes (read in chunks). */
  allZero(from: number, to: number): boolean {
    for (let pos = from; pos < to; pos += CRC_CHUNK) {
      const b = this.read(pos, Math.min(CRC_CHUNK, to - pos))
      if (b.length === 0) return false
      for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false
    }
    return true
  }

  /** CRC-32 of [from, from + length), read in chunks; undefined if the file is shorter. */
  crcRange(from: number, length: number, seed = 0): number | undefined {
    let crc = seed
    for (let pos = from; pos < from + length; pos += CRC_CHUNK) {
      const n = Math.min(CRC_CHUNK, from + length - pos)
      const b = this.read(pos, n)
      if (b.length !== n) return undefined
      crc = crc32(b, crc)
    }
    return crc
  }

  /**
   * Reads and verifies the record at `offset` that must lie inside [HEADER_SIZE, end):
   * framing, one of `kinds`, flags 0, CRC. Bodies above `maxBody` are not loaded (their CRC
   * is still checked, in chunks) and come back empty.
   */
  record(offset: number, end: number, kinds: readonly number[], maxBody = Infinity): RecordOk | RecordBad {
    try {
      if (!Number.isSafeInteger(offset) || offset < HEADER_SIZE) return bad(`pointer to offset ${offset}, inside the file header`)
      if (offset + RECORD_OVERHEAD > end) return bad(`pointer to offset ${offset}, past the end of the data (${end})`)
      let buf = this.read(offset, Math.min(NODE_READ_GUESS, end - offset))
      if (buf.length < RECORD_HEADER_SIZE) return bad('record cut short by the end of the file')
      const bodyLength = readU32(buf, 0)
      const kind = buf[4]!
      const flags = buf[5]!
      const size = bodyLength + RECORD_OVERHEAD
      if (!kinds.includes(kind)) {
        return bad(`expected a ${kinds.map(kindName).join(' or ')}, found ${kindName(kind)}`)
      }
      if (flags !== 0) return bad(`${kindName(kind)} has record flags ${flags} (version 1 allows 0)`)
      if (offset + size > end) return bad(`${kindName(kind)} of ${size} bytes runs past the end of the data (${end})`)
      const stored = (): number => readU32(buf, RECORD_HEADER_SIZE + bodyLength)
      if (bodyLength > maxBody) {
        const crc = this.crcRange(offset, RECORD_HEADER_SIZE + bodyLength)
        const trailer = this.read(offset + RECORD_HEADER_SIZE + bodyLength, 4)
        if (crc === undefined || trailer.length < 4) return bad(`${kindName(kind)} cut short by the end of the file`)
        const s = readU32(trailer, 0)
        if (crc !== s) return bad(`${kindName(kind)} checksum mismatch (stored ${hex32(s)}, computed ${hex32(crc)})`)
        return { ok: true, kind, body: new Uint8Array(0), crc, size }
      }
      if (buf.length < size) buf = this.read(offset, size)
      if (buf.length < size) return bad(`${kindName(kind)} cut short by the end of the file`)
      const crc = crc32(buf.subarray(0, RECORD_HEADER_SIZE + bodyLength))
      if (crc !== stored()) return bad(`${kindName(kind)} checksum mismatch (stored ${hex32(stored())}, computed ${hex32(crc)})`)
      return { ok: true, kind, body: buf.slice(RECORD_HEADER_SIZE, RECORD_HEADER_SIZE + bodyLength), crc, size }
    } catch (e) {
      return bad(`read failed: ${describeError(e)}`)
    }
  }

  /** Verifies an out-of-line value record against the leaf entry naming it; a problem or undefined. */
  verifyValue(ref: ValueRef, leafOffset: number, end: number): string | undefined {
    if (ref.offset >= leafOffset) return `value pointer points forward (to ${ref.offset}, from the leaf at ${leafOffset})`
    // Values can be 1 GiB: checksum them in chunks, never load them whole.
    const r = this.record(ref.offset, end, [KIND_VALUE], CRC_CHUNK)
    if (!r.ok) return r.message
    if (r.size - RECORD_OVERHEAD !== ref.length) {
      return `value record holds ${r.size - RECORD_OVERHEAD} bytes, its leaf entry says ${ref.length}`
    }
    if (r.crc !== ref.crc) return `value record is not the one its leaf entry names (entry crc ${hex32(ref.crc)}, record crc ${hex32(r.crc)})`
    return undefined
  }
}

function bad(message: string): RecordBad {
  return { ok: false, message }
}
