#!/usr/bin/env node
// Annotated hex dump of a cambium file, one line per field:
//
//   node tools/hexdump/hexdump.mjs <file> [--max-value 32]
//
// An independent reader written from FORMAT.md only (it imports nothing from src/ or
// dist/), so it doubles as a check of the specification: it walks the records from the
// end of the header by their lengths, verifies every CRC and prints each field. FORMAT.md
// Appendix A is this tool's output for test/fixtures/v1/tiny.cambium.
//
// Output lines: `OFFSET  HEX BYTES  annotation`, OFFSET as 8 hex digits; a field longer
// than 16 bytes continues on lines whose annotation is empty. Lines starting with `--`
// head each region.

import { readFileSync } from 'node:fs'
import { crc32 } from 'node:zlib'

const MAGIC = [0x89, 0x43, 0x41, 0x4d, 0x42, 0x0d, 0x0a, 0x1a]
const HEADER_SIZE = 64
const KINDS = { 1: 'leaf', 2: 'branch', 3: 'value', 4: 'commit' }
const COMMIT_BODY_SIZE = 80
const HEX_COL = 16 * 3

const args = process.argv.slice(2)
const file = args.find((a) => !a.startsWith('--'))
if (file === undefined) {
  console.error('usage: node tools/hexdump/hexdump.mjs <file> [--max-value N]')
  process.exit(2)
}
const maxValueArg = args.indexOf('--max-value')
const maxValue = maxValueArg >= 0 ? Number(args[maxValueArg + 1]) : Infinity
const b = new Uint8Array(readFileSync(file))
const out = []

const hex = (bytes) => [...bytes].map((x) => x.toString(16).padStart(2, '0')).join(' ')
const u16 = (at) => b[at] | (b[at + 1] << 8)
const u32 = (at) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0
const u48 = (at) => u32(at) + u16(at + 4) * 2 ** 32
const u64 = (at) => u32(at) + u32(at + 4) * 2 ** 32
const printable = (bytes) => {
  const s = Buffer.from(bytes).toString('latin1')
  return /^[\x20-\x7e]*$/.test(s) ? JSON.stringify(s) : `0x${hex(bytes).replace(/ /g, '')}`
}

/** Prints bytes [at, at + n) with a note; long fields wrap at 16 bytes per line. */
function field(at, n, note) {
  if (n === 0) {
    out.push(`${at.toString(16).padStart(8, '0')}  ${''.padEnd(HEX_COL)} ${note}`)
    return
  }
  for (let i = 0; i < n; i += 16) {
    const chunk = b.subarray(at + i, at + Math.min(n, i + 16))
    out.push(`${(at + i).toString(16).padStart(8, '0')}  ${hex(chunk).padEnd(HEX_COL)} ${i === 0 ? note : ''}`.trimEnd())
  }
}

function varint(at) {
  let v = 0
  let mul = 1
  for (let i = 0; i < 8; i++) {
    const x = b[at + i]
    v += (x & 0x7f) * mul
    if (x < 0x80) return [v, i + 1]
    mul *= 128
  }
  throw new Error(`varint longer than 8 bytes at ${at}`)
}

// Header
out.push('-- header (64 bytes)')
if (b.length < HEADER_SIZE || MAGIC.some((m, i) => b[i] !== m)) throw new Error('not a cambium file')
field(0, 8, 'magic "\\x89CAMB\\r\\n\\x1a"')
field(8, 2, `readVersion = ${u16(8)}`)
field(10, 2, `writeVersion = ${u16(10)}`)
field(12, 4, `flags = ${u32(12)}`)
field(16, 16, 'salt (random)')
field(32, 8, `createdAt = ${u64(32)} (${new Date(u64(32)).toISOString()})`)
field(40, 8, `baseSize = ${u64(40)}${u64(40) === 0 ? ' (created empty)' : ' (written by compaction)'}`)
field(48, 12, 'reserved (zero)')
const hcrc = crc32(b.subarray(0, 60)) >>> 0
field(60, 4, `crc = 0x${u32(60).toString(16).padStart(8, '0')} (${hcrc === u32(60) ? 'ok' : 'BAD'}: CRC-32 of bytes 0..59)`)
const salt = b.subarray(16, 32)
const seed = crc32(salt) >>> 0

function leafBody(at, end) {
  const n = u16(at)
  field(at, 2, `count = ${n}`)
  let p = at + 2
  const [plen, ps] = varint(p)
  field(p, ps, `prefixLength = ${plen}`)
  p += ps
  if (plen > 0) field(p, plen, `prefix = ${printable(b.subarray(p, p + plen))}`)
  p += plen
  for (let i = 0; i < n; i++) {
    const flags = b[p]
    field(p, 1, `entry ${i}: flags = ${flags}${flags & 1 ? ' (out of line)' : ' (inline)'}`)
    p += 1
    const [slen, ss] = varint(p)
    field(p, ss, `  suffixLength = ${slen}`)
    p += ss
    field(p, slen, `  suffix = ${printable(b.subarray(p, p + slen))}`)
    p += slen
    if (flags & 1) {
      field(p, 6, `  valueOffset = ${u48(p)}`)
      field(p + 6, 4, `  valueCrc = 0x${u32(p + 6).toString(16).padStart(8, '0')}`)
      p += 10
      const [vlen, vs] = varint(p)
      field(p, vs, `  valueLength = ${vlen}`)
      p += vs
    } else {
      const [vlen, vs] = varint(p)
      field(p, vs, `  valueLength = ${vlen}`)
      p += vs
      field(p, Math.min(vlen, maxValue), `  value = ${printable(b.subarray(p, p + Math.min(vlen, 64)))}${vlen > 64 ? '...' : ''}`)
      if (vlen > maxValue) out.push(`          ... ${vlen - maxValue} more value bytes`)
      p += vlen
    }
  }
  if (p !== end) throw new Error(`leaf at ${at - 6}: body length mismatch`)
}

function branchBody(at, end) {
  const n = u16(at)
  field(at, 2, `childCount = ${n}`)
  field(at + 2, 1, `height = ${b[at + 2]}`)
  let p = at + 3
  const [plen, ps] = varint(p)
  field(p, ps, `prefixLength = ${plen}`)
  p += ps
  if (plen > 0) field(p, plen, `prefix = ${printable(b.subarray(p, p + plen))}`)
  p += plen
  for (let i = 0; i < n; i++) {
    field(p, 6, `child ${i}: offset = ${u48(p)}`)
    field(p + 6, 4, `  crc = 0x${u32(p + 6).toString(16).padStart(8, '0')}`)
    p += 10
    const [count, cs] = varint(p)
    field(p, cs, `  count = ${count}`)
    p += cs
    const [bytes, bs] = varint(p)
    field(p, bs, `  bytes = ${bytes}`)
    p += bs
  }
  for (let i = 0; i < n - 1; i++) {
    const [slen, ss] = varint(p)
    field(p, ss, `separator ${i}: suffixLength = ${slen}`)
    p += ss
    field(p, slen, `  suffix = ${printable(b.subarray(p, p + slen))}`)
    p += slen
  }
  if (p !== end) throw new Error(`branch at ${at - 6}: body length mismatch`)
}

function commitBody(at) {
  const f = [
    [0, 8, 'version', u64],
    [8, 8, 'time', u64],
    [16, 8, 'rootOffset', u64],
    [24, 4, 'rootCrc', (x) => `0x${u32(x).toString(16).padStart(8, '0')}`],
    [28, 1, 'height', (x) => b[x]],
    [29, 1, 'reserved', (x) => b[x]],
    [30, 2, 'flags', u16],
    [32, 8, 'count', u64],
    [40, 8, 'treeBytes', u64],
    [48, 8, 'prevOffset', u64],
    [56, 8, 'skipOffset', u64],
    [64, 8, 'syncedUpTo', u64],
    [72, 8, 'sourceVersion', u64],
  ]
  for (const [off, size, name, read] of f) {
    let note = `${name} = ${read(at + off)}`
    if (name === 'time') note += ` (${new Date(u64(at + off)).toISOString()})`
    if (name === 'flags' && u16(at + off) & 1) note += ' (rollback)'
    field(at + off, size, note)
  }
}

// Records, walked by their lengths from the end of the header.
let pos = HEADER_SIZE
let lastCommitEnd = HEADER_SIZE
while (pos < b.length) {
  if (pos + 10 > b.length) break
  const len = u32(pos)
  const kind = b[pos + 4]
  const end = pos + 6 + len + 4
  if (KINDS[kind] === undefined || b[pos + 5] !== 0 || end > b.length) break
  const want = crc32(b.subarray(pos, pos + 6 + len), kind === 4 ? seed : 0) >>> 0
  if (want !== u32(pos + 6 + len)) break
  out.push(`-- ${KINDS[kind]} record at ${pos} (${len + 10} bytes)`)
  field(pos, 4, `bodyLength = ${len}`)
  field(pos + 4, 1, `kind = ${kind} (${KINDS[kind]})`)
  field(pos + 5, 1, `flags = ${b[pos + 5]}`)
  const body = pos + 6
  if (kind === 1) leafBody(body, body + len)
  else if (kind === 2) branchBody(body, body + len)
  else if (kind === 3) {
    field(body, Math.min(len, maxValue), `value bytes (${len})`)
    if (len > maxValue) out.push(`          ... ${len - maxValue} more value bytes`)
  } else {
    if (len !== COMMIT_BODY_SIZE) throw new Error(`commit at ${pos}: body length ${len}`)
    commitBody(body)
  }
  field(body + len, 4, `crc = 0x${u32(body + len).toString(16).padStart(8, '0')} (ok${kind === 4 ? ', salted' : ''})`)
  pos = end
  if (kind === 4) lastCommitEnd = pos
}
if (pos < b.length || lastCommitEnd < b.length) {
  out.push(`-- ${b.length - lastCommitEnd} bytes after the last commit (a torn tail: a read-write open cuts them)`)
  if (pos < b.length) field(pos, b.length - pos, 'not a complete, verifying record')
}
console.log(out.join('\n'))
