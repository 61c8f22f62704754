/**
 * FORMAT.md against the code. Every Markdown table in FORMAT.md with a `Constant` column
 * documents constants of src/format/constants.ts: the test checks each named constant's value
 * (from the table's `Value`/`Kind` column, or for *_OFFSET/*_SIZE names its `Offset`/`Size`
 * column) and that every exported constant is documented somewhere. The header and commit
 * layouts are also checked field by field against the encoders, and Appendix A's hex dump
 * against the fixture file it claims to show. A change on either side alone fails here.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ByteWriter } from '../../src/format/bytes.js'
import { commitRecordBytes, saltSeed, type CommitRecord } from '../../src/format/commit-record.js'
import * as C from '../../src/format/constants.js'
import { encodeHeader, type Header } from '../../src/format/header.js'
import { beginRecord, endRecord } from '../../src/format/record.js'

const root = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url))
const DOC = readFileSync(root('FORMAT.md'), 'utf8')

type Constants = Record<string, unknown>

interface Table {
  section: string
  line: number
  columns: string[]
  rows: Record<string, string>[]
}

/** The Markdown tables of a document, outside code fences, with the `## ` section they sit in. */
function parseTables(text: string): Table[] {
  const tables: Table[] = []
  const lines = text.split('\n')
  let section = ''
  let fence = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.startsWith('```')) fence = !fence
    if (fence) continue
    if (line.startsWith('## ')) section = line.slice(3).trim()
    if (!line.startsWith('|') || !lines[i + 1]?.match(/^\|[\s:|-]+\|\s*$/)) continue
    const cells = (l: string): string[] => l.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim())
    const columns = cells(line)
    const rows: Record<string, string>[] = []
    let j = i + 2
    for (; j < lines.length && lines[j]!.startsWith('|'); j++) {
      const c = cells(lines[j]!)
      rows.push(Object.fromEntries(columns.map((name, k) => [name, c[k] ?? ''])))
    }
    tables.push({ section, line: i + 1, columns, rows })
    i = j - 1
  }
  return tables
}

/** Parses a documented value: a decimal or 0x integer (anything after it is commentary), or hex bytes for arrays. */
function parseValue(cell: string, actual: unknown): unknown {
  const s = cell.replace(/`/g, '').trim()
  if (actual instanceof Uint8Array) {
    const m = s.match(/^([0-9A-Fa-f]{2}(?:\s+[0-9A-Fa-f]{2})*)/)
    return m ? Uint8Array.from(m[1]!.split(/\s+/).map((x) => parseInt(x, 16))) : undefined
  }
  const m = s.match(/^(0x[0-9A-Fa-f]+|\d+)(?![\d.^])/)
  return m ? Number(m[1]) : undefined
}

/** All problems found comparing a FORMAT.md text with a set of constants; [] means they agree. */
function checkConstantTables(text: string, constants: Constants): string[] {
  const problems: string[] = []
  const documented = new Set<string>()
  for (const t of parseTables(text)) {
    if (!t.columns.includes('Constant')) continue
    const valueColumn = t.columns.find((c) => c === 'Value' || c === 'Kind')
    for (const row of t.rows) {
      for (const [, name] of row['Constant']!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) {
        const where = `FORMAT.md line ${t.line} (§${t.section}), ${name!}`
        if (!(name! in constants)) {
          problems.push(`${where}: not exported by src/format/constants.ts`)
          continue
        }
        documented.add(name!)
        const actual = constants[name!]
        let column: string | undefined = valueColumn
        if (column === undefined) column = name!.endsWith('_OFFSET') ? 'Offset' : name!.endsWith('_SIZE') ? 'Size' : undefined
        if (column === undefined || !t.columns.includes(column)) {
          problems.push(`${where}: the table has no column giving its value`)
          continue
        }
        const doc = parseValue(row[column]!, actual)
        const same =
          actual instanceof Uint8Array && doc instanceof Uint8Array
            ? Buffer.from(actual).equals(Buffer.from(doc))
            : doc === actual
        if (!same) problems.push(`${where}: documents ${row[column]!} in column ${column}, the code has ${String(actual)}`)
      }
    }
  }
  for (const name of Object.keys(constants)) {
    if (!documented.has(name)) problems.push(`${name} (src/format/constants.ts) is in no FORMAT.md table with a Constant column`)
  }
  return problems
}

function sectionTables(text: string, prefix: string): Table[] {
  return parseTables(text).filter((t) => t.section.startsWith(prefix))
}

/** The first table of a section that has the given columns. */
function tableWith(text: string, sectionPrefix: string, ...columns: string[]): Table {
  const t = sectionTables(text, sectionPrefix).find((x) => columns.every((c) => x.columns.includes(c)))
  if (t === undefined) throw new Error(`FORMAT.md: no table with columns ${columns.join(', ')} in section ${sectionPrefix}`)
  return t
}

/** Problems in a layout table: rows must tile [0, total) in order with numeric offsets and sizes. */
function checkContiguous(t: Table, total: number): string[] {
  const problems: string[] = []
  let at = 0
  for (const r of t.rows) {
    const off = Number(r['Offset'])
    const size = Number(r['Size'])
    if (!Number.isInteger(off) || !Number.isInteger(size)) continue
    if (off !== at) problems.push(`line ${t.line}: ${r['Field']} at offset ${off}, expected ${at} (after the previous field)`)
    at = off + size
  }
  if (at !== total) problems.push(`line ${t.line}: fields end at ${at}, expected ${total}`)
  return problems
}

/** Reads an unsigned little-endian integer of `size` bytes. */
function readLE(b: Uint8Array, at: number, size: number): number {
  let v = 0
  for (let i = size - 1; i >= 0; i--) v = v * 256 + b[at + i]!
  return v
}

describe('FORMAT.md', () => {
  it('has the numbered sections', () => {
    const headings = DOC.split('\n').filter((l) => l.startsWith('## ')).map((l) => l.slice(3))
    const want = [
      '0. Conventions',
      '1. How a file is written',
      '2. Layout',
      '3. Header',
      '4. Record framing',
      '5. Node records',
      '6. Commit record',
      '7. Opening and recovery',
      '8. Commit protocol and fsync',
      '9. Invariants',
      '10. Write amplification',
      '11. Compaction',
      '12. Compatibility and change log',
      '13. Assumptions about storage',
      'Appendix A.',
    ]
    expect(headings.map((h, i) => (want[i] !== undefined && h.startsWith(want[i]!) ? want[i] : h))).toEqual(want)
    for (const sub of ['### 5b. Values', '### 5c. Limits']) expect(DOC).toContain(sub)
  })

  it('documents every constant of src/format/constants.ts with its value', () => {
    expect(checkConstantTables(DOC, C)).toEqual([])
  })

  it('the constant check fails when either side changes alone', () => {
    // The code changes: a value, a new constant.
    expect(checkConstantTables(DOC, { ...C, HEADER_FLAGS_OFFSET: 13 })).toEqual([expect.stringContaining('HEADER_FLAGS_OFFSET')])
    expect(checkConstantTables(DOC, { ...C, MAX_KEY_SIZE: 8192 })).toEqual([expect.stringContaining('MAX_KEY_SIZE')])
    expect(checkConstantTables(DOC, { ...C, KIND_DELTA: 5 })).toEqual([expect.stringContaining('KIND_DELTA')])
    expect(checkConstantTables(DOC, { ...C, MAGIC: Uint8Array.of(0x89, 0x43, 0x41, 0x4d, 0x42, 0x0d, 0x0a, 0x00) })).toEqual([
      expect.stringContaining('MAGIC'),
    ])
    // The document changes: a value, a row removed, an unknown name.
    const edit = (from: string, to: string): string => {
      expect(DOC).toContain(from)
      return DOC.replace(from, to)
    }
    expect(checkConstantTables(edit('| 72 | 8 | sourceVersion |', '| 73 | 8 | sourceVersion |'), C)).not.toEqual([])
    expect(checkConstantTables(edit('| 3 | `KIND_VALUE` |', '| 5 | `KIND_VALUE` |'), C)).not.toEqual([])
    expect(checkConstantTables(edit('| `RECOVERY_WINDOW` | 8388608', '| `RECOVERY_WINDOW` | 4194304'), C)).not.toEqual([])
    expect(checkConstantTables(edit('`COMMIT_FLAGS_KNOWN_V1`', '`COMMIT_FLAGS_KNOWN`'), C)).toHaveLength(2)
  })

  it('the header table tiles 64 bytes and matches encodeHeader field by field', () => {
    const t = tableWith(DOC, '3.', 'Offset', 'Size', 'Field')
    expect(checkContiguous(t, C.HEADER_SIZE)).toEqual([])
    const h: Header = { readVersion: 0x0102, writeVersion: 0x0304, flags: 0x05060708, salt: Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i), createdAt: 0x0a0b0c0d0e0f, baseSize: 0x1122334455, reservedZero: true }
    const b = encodeHeader(h)
    const fields = new Map(t.rows.map((r) => [r['Field']!, { off: Number(r['Offset']), size: Number(r['Size']) }]))
    expect([...fields.keys()]).toEqual(['magic', 'readVersion', 'writeVersion', 'flags', 'salt', 'createdAt', 'baseSize', 'reserved', 'crc'])
    const f = (name: string): { off: number; size: number } => fields.get(name)!
    expect(b.subarray(f('magic').off, f('magic').off + f('magic').size)).toEqual(C.MAGIC)
    expect(readLE(b, f('readVersion').off, f('readVersion').size)).toBe(h.readVersion)
    expect(readLE(b, f('writeVersion').off, f('writeVersion').size)).toBe(h.writeVersion)
    expect(readLE(b, f('flags').off, f('flags').size)).toBe(h.flags)
    expect(b.subarray(f('salt').off, f('salt').off + f('salt').size)).toEqual(h.salt)
    expect(readLE(b, f('createdAt').off, f('createdAt').size)).toBe(h.createdAt)
    expect(readLE(b, f('baseSize').off, f('baseSize').size)).toBe(h.baseSize)
    expect(b.subarray(f('reserved').off, f('reserved').off + f('reserved').size).every((x) => x === 0)).toBe(true)
    expect(f('crc').off + f('crc').size).toBe(C.HEADER_SIZE)
    // The magic in the table's Meaning column is the real one.
    const magicHex = [...C.MAGIC].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join(' ')
    expect(t.rows[0]!['Meaning']).toContain(magicHex)
  })

  it('the commit body table tiles 80 bytes and matches encodeCommit field by field', () => {
    const t = tableWith(DOC, '6.', 'Offset', 'Size', 'Field')
    expect(checkContiguous(t, C.COMMIT_BODY_SIZE)).toEqual([])
    const c: CommitRecord = {
      version: 0x010203040506,
      time: 0x111213141516,
      rootOffset: 0x212223242526,
      rootCrc: 0x31323334,
      height: 0x41,
      flags: 0x0001,
      count: 0x515253545556,
      treeBytes: 0x616263646566,
      prevOffset: 0x717273747576,
      skipOffset: 0x0102030405,
      syncedUpTo: 0x1112131415,
      sourceVersion: 0x2122232425,
    }
    const rec = commitRecordBytes(c, saltSeed(new Uint8Array(16)))
    const body = rec.subarray(C.RECORD_HEADER_SIZE, C.RECORD_HEADER_SIZE + C.COMMIT_BODY_SIZE)
    const names = t.rows.map((r) => r['Field']!)
    expect(names.filter((n) => n !== 'reserved').sort()).toEqual(Object.keys(c).sort())
    for (const r of t.rows) {
      const v = readLE(body, Number(r['Offset']), Number(r['Size']))
      if (r['Field'] === 'reserved') expect(v).toBe(0)
      else expect(v, `commit field ${r['Field']}`).toBe(c[r['Field'] as keyof CommitRecord])
    }
  })

  it('the framing table matches a record written by the codec', () => {
    const t = tableWith(DOC, '4.', 'Offset', 'Size', 'Field')
    const w = new ByteWriter()
    const start = beginRecord(w, C.KIND_VALUE)
    w.bytes(Uint8Array.of(0xaa, 0xbb, 0xcc))
    endRecord(w, start)
    const rec = w.result()
    const row = (name: string): Record<string, string> => t.rows.find((r) => r['Field'] === name)!
    expect(readLE(rec, Number(row('bodyLength')['Offset']), Number(row('bodyLength')['Size']))).toBe(3)
    expect(readLE(rec, Number(row('kind')['Offset']), Number(row('kind')['Size']))).toBe(C.KIND_VALUE)
    expect(readLE(rec, Number(row('flags')['Offset']), Number(row('flags')['Size']))).toBe(0)
    expect(row('body')['Offset']).toBe(String(C.RECORD_HEADER_SIZE))
    expect(row('crc')['Offset']).toBe(`${C.RECORD_HEADER_SIZE} + bodyLength`)
    expect(Number(row('crc')['Size'])).toBe(C.RECORD_TRAILER_SIZE)
    expect(rec.length).toBe(3 + C.RECORD_OVERHEAD)
  })

  it('the kinds table lists exactly the KIND_* constants', () => {
    const t = tableWith(DOC, '4.', 'Kind', 'Constant')
    const doc = t.rows.map((r) => [r['Constant']!.replace(/`/g, ''), Number(r['Kind'])])
    const code = Object.entries(C).filter(([k]) => k.startsWith('KIND_'))
    expect(Object.fromEntries(doc)).toEqual(Object.fromEntries(code))
  })

  it('every flag table bit matches its value', () => {
    for (const t of parseTables(DOC).filter((x) => x.columns.includes('Bit'))) {
      for (const r of t.rows) expect(Number(r['Value']), `line ${t.line} ${r['Constant']}`).toBe(2 ** Number(r['Bit']))
    }
  })

  it('names only error codes that exist', () => {
    const errors = readFileSync(root('src/errors.ts'), 'utf8')
    const known = new Set([...errors.matchAll(/'(ERR_[A-Z_]+)'/g)].map((m) => m[1]))
    const used = new Set([...DOC.matchAll(/\b(ERR_[A-Z_]+)\b/g)].map((m) => m[1]))
    expect(used.size).toBeGreaterThan(5)
    for (const code of used) expect(known.has(code), code).toBe(true)
  })

  it("Appendix A's dump is exactly test/fixtures/v1/tiny.cambium", () => {
    const appendix = DOC.slice(DOC.indexOf('## Appendix A'))
    const block = appendix.slice(appendix.indexOf('```\n') + 4, appendix.indexOf('\n```', appendix.indexOf('```\n') + 4))
    const bytes: number[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith('--')) continue
      const m = line.match(/^([0-9a-f]{8}) {2}((?:[0-9a-f]{2} )*[0-9a-f]{2})/)
      expect(m, `unparsed dump line: ${line}`).not.toBeNull()
      expect(parseInt(m![1]!, 16), `offset of: ${line}`).toBe(bytes.length)
      for (const x of m![2]!.split(' ')) bytes.push(parseInt(x, 16))
    }
    const file = readFileSync(root('test/fixtures/v1/tiny.cambium'))
    expect(Buffer.from(bytes).equals(file)).toBe(true)
  })
})
