/**
 * Byte-level encoding helpers: the only place that fixes endianness (little-endian)
 * and the varint form (unsigned LEB128, at most 8 bytes, values up to 2^53 - 1).
 */

export const MAX_VARINT_BYTES = 8

export function varintSize(n: number): number {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

/** A growable output buffer. */
export class ByteWriter {
  buf: Uint8Array
  pos = 0
  private view: DataView

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity)
    this.view = new DataView(this.buf.buffer)
  }

  ensure(extra: number): void {
    const need = this.pos + extra
    if (need <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < need) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v
  }

  u16(v: number): void {
    this.ensure(2)
    this.view.setUint16(this.pos, v, true)
    this.pos += 2
  }

  u32(v: number): void {
    this.ensure(4)
    this.view.setUint32(this.pos, v >>> 0, true)
    this.pos += 4
  }

  u48(v: number): void {
    this.ensure(6)
    this.view.setUint32(this.pos, v % 0x100000000, true)
    this.view.setUint16(this.pos + 4, Math.floor(v / 0x100000000), true)
    this.pos += 6
  }

  u64(v: number): void {
    this.ensure(8)
    this.view.setUint32(this.pos, v % 0x100000000, true)
    this.view.setUint32(this.pos + 4, Math.floor(v / 0x100000000), true)
    this.pos += 8
  }

  varint(n: number): void {
    this.ensure(MAX_VARINT_BYTES)
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80
      n = Math.floor(n / 128)
    }
    this.buf[this.pos++] = n
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** Overwrites a u32 already reserved at `at`. */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true)
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}

/** Thrown by ByteReader when the input ends early or holds an impossible value; callers
 *  turn it into ERR_CORRUPT with the record's offset. */
export class DecodeError extends Error {}

/** A bounds-checked reader over one record body. */
export class ByteReader {
  pos: number
  private readonly view: DataView

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new DecodeError(`truncated: need ${n} bytes at ${this.pos}`)
  }

  u8(): number {
    this.need(1)
    return this.buf[this.pos++]!
  }

  u16(): number {
    this.need(2)
    const v = this.view.getUint16(this.pos, true)
    this.pos += 2
    return v
  }

  u32(): number {
    this.need(4)
    const v = this.view.getUint32(this.pos, true)
    this.pos += 4
    return v
  }

  u48(): number {
    this.need(6)
    const v = this.view.getUint32(this.pos, true) + this.view.getUint16(this.pos + 4, true) * 0x100000000
    this.pos += 6
    return v
  }

  u64(): number {
    this.need(8)
    const lo = this.view.getUint32(this.pos, true)
    const hi = this.view.getUint32(this.pos + 4, true)
    if (hi > 0x1fffff) throw new DecodeError(`u64 above 2^53 at ${this.pos}`)
    this.pos += 8
    return hi * 0x100000000 + lo
  }

  varint(): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      this.need(1)
      const b = this.buf[this.pos++]!
      result += (b & 0x7f) * mul
      if (b < 0x80) return result
      mul *= 128
    }
    throw new DecodeError(`varint longer than ${MAX_VARINT_BYTES} bytes`)
  }

  /** A view (no copy) of the next n bytes. */
  bytes(n: number): Uint8Array {
    this.need(n)
    const b = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return b
  }
}

export function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0
}

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff
  b[at + 1] = (v >>> 8) & 0xff
  b[at + 2] = (v >>> 16) & 0xff
  b[at + 3] = (v >>> 24) & 0xff
}

/** Bytewise comparison (the key order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.length - b.length
}

export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length
  let i = 0
  while (i < n && a[i] === b[i]) i++
  return i
}
