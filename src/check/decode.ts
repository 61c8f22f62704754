/**
 * Lenient decoders of leaf and branch bodies (FORMAT.md §5). The engine's decoders
 * (src/format/node-codec.ts) stop at the first broken rule; these keep going where the
 * layout allows and list every broken rule, so `check` can report them all. Only a body
 * that cannot be parsed at all (truncated, an unknown entry layout) throws DecodeError.
 */
import { ByteReader, compareBytes, DecodeError } from '../format/bytes.js'
import {
  ENTRY_FLAG_OUT_OF_LINE,
  ENTRY_FLAGS_KNOWN_V1,
  MAX_KEY_SIZE,
  MAX_TREE_HEIGHT,
  MAX_VALUE_SIZE,
} from '../format/constants.js'
import type { ChildPointer, StoredValue } from '../format/node-codec.js'

export interface RawLeaf {
  keys: Uint8Array[]
  values: StoredValue[]
  /** indexes of out-of-line values whose pointer is unusable (points forward) */
  badValues: Set<number>
  problems: string[]
}

export interface RawBranch {
  /** the height stored in the record */
  height: number
  children: ChildPointer[]
  keys: Uint8Array[]
  /** indexes of child pointers that are unusable (point forward) */
  badChildren: Set<number>
  problems: string[]
}

/** A key for a message: printable ASCII as a JSON string, anything else as hex; long keys cut. */
export function showKey(k: Uint8Array): string {
  const max = 48
  const cut = k.length > max
  const b = cut ? k.subarray(0, max) : k
  let printable = true
  for (const c of b) if (c < 0x20 || c > 0x7e) printable = false
  const s = printable ? JSON.stringify(Buffer.from(b).toString('latin1')) : '0x' + Buffer.from(b).toString('hex')
  return cut ? `${s}... (${k.length} bytes)` : s
}

function join(prefix: Uint8Array, suffix: Uint8Array): Uint8Array {
  const k = new Uint8Array(prefix.length + suffix.length)
  k.set(prefix)
  k.set(suffix, prefix.length)
  return k
}

function checkOrder(keys: Uint8Array[], what: string, problems: string[]): void {
  for (let i = 1; i < keys.length; i++) {
    if (compareBytes(keys[i - 1]!, keys[i]!) >= 0) {
      problems.push(`${what} out of order: #${i - 1} ${showKey(keys[i - 1]!)} is not below #${i} ${showKey(keys[i]!)}`)
      return
    }
  }
}

export function decodeLeafLenient(body: Uint8Array, offset: number): RawLeaf {
  const r = new ByteReader(body)
  const problems: string[] = []
  const n = r.u16()
  if (n === 0) problems.push('empty leaf (a leaf holds at least one entry)')
  const prefix = r.bytes(r.varint())
  const keys: Uint8Array[] = []
  const values: StoredValue[] = []
  const badValues = new Set<number>()
  for (let i = 0; i < n; i++) {
    const flags = r.u8()
    if ((flags & ~ENTRY_FLAGS_KNOWN_V1) !== 0) throw new DecodeError(`entry #${i} has unknown entry flags ${flags}`)
    const key = join(prefix, r.bytes(r.varint()))
    if (key.length === 0) problems.push(`entry #${i} has an empty key`)
    if (key.length > MAX_KEY_SIZE) problems.push(`entry #${i} has a key of ${key.length} bytes (limit ${MAX_KEY_SIZE})`)
    keys.push(key)
    if (flags & ENTRY_FLAG_OUT_OF_LINE) {
      const ref = { offset: r.u48(), crc: r.u32(), length: r.varint() }
      if (ref.offset >= offset) {
        problems.push(`entry #${i} has a value pointer that points forward (to ${ref.offset})`)
        badValues.add(i)
      }
      if (ref.length > MAX_VALUE_SIZE) problems.push(`entry #${i} has a value of ${ref.length} bytes (limit ${MAX_VALUE_SIZE})`)
      values.push(ref)
    } else {
      const v = r.bytes(r.varint())
      if (v.length > MAX_VALUE_SIZE) problems.push(`entry #${i} has a value of ${v.length} bytes (limit ${MAX_VALUE_SIZE})`)
      values.push(v)
    }
  }
  if (r.pos !== body.length) problems.push(`${body.length - r.pos} trailing bytes after the last entry`)
  checkOrder(keys, 'keys', problems)
  return { keys, values, badValues, problems }
}

export function decodeBranchLenient(body: Uint8Array, offset: number): RawBranch {
  const r = new ByteReader(body)
  const problems: string[] = []
  const n = r.u16()
  const height = r.u8()
  if (n < 2) problems.push(`branch with ${n} children (at least 2)`)
  if (height < 2 || height > MAX_TREE_HEIGHT) problems.push(`branch height ${height} (2 to ${MAX_TREE_HEIGHT})`)
  const prefix = r.bytes(r.varint())
  const children: ChildPointer[] = []
  const badChildren = new Set<number>()
  for (let i = 0; i < n; i++) {
    const c = { offset: r.u48(), crc: r.u32(), count: r.varint(), bytes: r.varint() }
    if (c.offset >= offset) {
      problems.push(`child #${i} pointer points forward (to ${c.offset})`)
      badChildren.add(i)
    }
    children.push(c)
  }
  const keys: Uint8Array[] = []
  for (let i = 0; i < n - 1; i++) keys.push(join(prefix, r.bytes(r.varint())))
  if (r.pos !== body.length) problems.push(`${body.length - r.pos} trailing bytes after the last separator`)
  checkOrder(keys, 'separators', problems)
  return { height, children, keys, badChildren, problems }
}
