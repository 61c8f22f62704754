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

/** Writes n as a varint at b[at]; returns the position after it. The caller ensured room. */
export function putVarint(b: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    b[at++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  b[at++] = n
  return at
}

/** Writes a little-endian u48 at b[at]; returns the position after it. */
export function putU48(b: Uint8Array, at: number, v: number): number {
  const hi = Math.floor(v / 0x100000000)
  writeU32(b, at, v >>> 0)
  b[at + 4] = hi & 0xff
  b[at + 5] = (hi >>> 8) & 0xff
  return at + 6
}

/** Copies src[from, end) to b[at]; returns the position after it. */
export function putBytes(b: Uint8Array, at: number, src: Uint8Array, from: number, end = src.length): number {
  // TypedArray#set (and the subarray it would need) has a fixed cost that a loop beats for short keys.
  if (end - from < 32) {
    for (let i = from; i < end; i++) b[at++] = src[i]!
    return at
  }
  b.set(from === 0 && end === src.length ? src : src.subarray(from, end), at)
  return at + end - from
}

/** A growable output buffer. Writes index bytes directly (no DataView): this is the
 *  hot path of every commit. */
export class ByteWriter {
  buf: Uint8Array
  pos = 0

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity)
  }

  ensure(extra: number): void {
    const need = this.pos + extra
    if (need <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < need) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  u8(v: number): void {
    if (this.pos + 1 > this.buf.length) this.ensure(1)
    this.buf[this.pos++] = v
  }

  u16(v: number): void {
    if (this.pos + 2 > this.buf.length) this.ensure(2)
    const b = this.buf
    b[this.pos++] = v & 0xff
    b[this.pos++] = (v >>> 8) & 0xff
  }

  u32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.ensure(4)
    writeU32(this.buf, this.pos, v)
    this.pos += 4
  }

  u48(v: number): void {
    if (this.pos + 6 > this.buf.length) this.ensure(6)
    this.pos = putU48(this.buf, this.pos, v)
  }

  u64(v: number): void {
    if (this.pos + 8 > this.buf.length) this.ensure(8)
    writeU32(this.buf, this.pos, v >>> 0)
    writeU32(this.buf, this.pos + 4, Math.floor(v / 0x100000000))
    this.pos += 8
  }

  varint(n: number): void {
    if (this.pos + MAX_VARINT_BYTES > this.buf.length) this.ensure(MAX_VARINT_BYTES)
    this.pos = putVarint(this.buf, this.pos, n)
  }

  /** Appends src[from..]. */
  bytes(src: Uint8Array, from = 0): void {
    const n = src.length - from
    if (this.pos + n > this.buf.length) this.ensure(n)
    this.pos = putBytes(this.buf, this.pos, src, from)
  }

  /** Overwrites a u32 already reserved at `at`. */
  patchU32(at: number, v: number): void {
    writeU32(this.buf, at, v)
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

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start
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
    const v = this.buf[this.pos]! | (this.buf[this.pos + 1]! << 8)
    this.pos += 2
    return v
  }

  u32(): number {
    this.need(4)
    const v = readU32(this.buf, this.pos)
    this.pos += 4
    return v
  }

  u48(): number {
    this.need(6)
    const v = readU32(this.buf, this.pos) + (this.buf[this.pos + 4]! | (this.buf[this.pos + 5]! << 8)) * 0x100000000
    this.pos += 6
    return v
  }

  u64(): number {
    this.need(8)
    const lo = readU32(this.buf, this.pos)
    const hi = readU32(this.buf, this.pos + 4)
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
      // The 8th byte holds bits 49..55: above 0x0f the value would pass 2^53 - 1.
      if (i === MAX_VARINT_BYTES - 1 && b > 0x0f) throw new DecodeError('varint above 2^53 - 1')
      result += (b & 0x7f) * mul
      if (b < 0x80) return result
      mul *= 128
    }
    throw new DecodeError(`varint longer than ${MAX_VARINT_BYTES} bytes`)
  }

  skip(n: number): void {
    this.need(n)
    this.pos += n
  }

  /** A view (no copy) of the next n bytes. */
  bytes(n: number): Uint8Array {
    this.need(n)
    const b = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return b
  }
}

/** A copy of src[start, end) as a plain Uint8Array. (Buffer#slice returns a view, so
 *  `.slice()` must never be used to copy bytes that may come from a caller.) */
export function copyOf(src: Uint8Array, start = 0, end = src.length): Uint8Array {
  const out = new Uint8Array(end - start)
  out.set(src.subarray(start, end))
  return out
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
