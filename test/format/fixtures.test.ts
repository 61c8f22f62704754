/**
 * Backward compatibility: the version-1 files in test/fixtures/v1/ (made by
 * tools/fixtures/make-fixtures.mjs) must open and read the same in every later build of
 * cambium. Each test works on a copy in a temp dir; the committed files are never opened
 * directly. expected.json holds each file's contents per version, from the generator's model.
 */
import { createHash } from 'node:crypto'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { crc32 } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'

interface VersionExpectation {
  count: number
  digest: string
  get: Record<string, string>
  absent: string[]
}

interface FileExpectation {
  size: number
  tornBytes: number
  latest: number
  historyLength: number
  history: { version: number; entries: number; rollbackOf: number | null }[]
  height?: number
  keyEncoding?: 'utf8'
  valueEncoding?: 'json'
  outOfLineKey?: string
  versions: Record<string, VersionExpectation>
}

const FIXTURES = fileURLToPath(new URL('../fixtures/v1/', import.meta.url))
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  formatReadVersion: number
  formatWriteVersion: number
  files: Record<string, FileExpectation>
}
const NAMES = Object.keys(expected.files)

const tmp = mkdtempSync(join(tmpdir(), 'cambium-fixtures-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
let copies = 0

/** A fresh copy of a fixture, so that opening it read-write cannot touch the committed file. */
function copy(name: string): string {
  const p = join(tmp, `${copies++}-${name}`)
  copyFileSync(join(FIXTURES, name), p)
  return p
}

/** sha256 over (u32le keyLength, key, u32le valueLength, value) per entry, in key order (see expected.json). */
function digest(entries: Iterable<[Uint8Array, Uint8Array]>): string {
  const h = createHash('sha256')
  for (const [k, v] of entries) {
    for (const b of [k, v]) {
      const n = Buffer.alloc(4)
      n.writeUInt32LE(b.length)
      h.update(n)
      h.update(b)
    }
  }
  return h.digest('hex')
}

type Db = ReturnType<typeof open>
type View = Pick<Db, 'get' | 'has' | 'count' | 'range'>

function checkView(view: View, want: VersionExpectation, what: string): void {
  expect(view.count(), `${what}: count`).toBe(want.count)
  expect(digest(view.range()), `${what}: contents`).toBe(want.digest)
  for (const [k, v] of Object.entries(want.get)) expect(view.get(k)?.toString('utf8'), `${what}: get ${k}`).toBe(v)
  for (const k of want.absent) {
    expect(view.get(k), `${what}: ${k} absent`).toBeUndefined()
    expect(view.has(k)).toBe(false)
  }
}

/** Checks the latest version, every older version through checkout, and the history. */
function checkDb(db: Db, exp: FileExpectation, what: string): void {
  expect(db.version, `${what}: version`).toBe(exp.latest)
  checkView(db, exp.versions[String(exp.latest)]!, `${what} latest`)
  for (const [v, want] of Object.entries(exp.versions)) checkView(db.checkout(Number(v)), want, `${what} v${v}`)
  const history = [...db.history()].map((c) => ({ version: c.version, entries: c.entries, rollbackOf: c.rollbackOf ?? null }))
  expect(history, `${what}: history`).toEqual(exp.history)
  expect(history).toHaveLength(exp.historyLength)
  const reverse = [...db.history({ reverse: true })].map((c) => c.version)
  expect(reverse).toEqual(exp.history.map((h) => h.version).reverse())
}

/**
 * An independent walk of the raw bytes (FORMAT.md §3, §4): the header verifies, and records
 * tile [64, end) exactly, each verifying (commits with the salted CRC), ending with a commit.
 */
function walk(bytes: Uint8Array, end: number): { kind: number; at: number; body: Uint8Array }[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  expect(b.subarray(0, 8).toString('hex')).toBe('8943414d420d0a1a')
  expect(b.readUInt16LE(8)).toBe(expected.formatReadVersion)
  expect(b.readUInt16LE(10)).toBe(expected.formatWriteVersion)
  expect(b.readUInt32LE(12)).toBe(0)
  expect(b.subarray(40, 60).every((x) => x === 0)).toBe(true)
  expect(b.readUInt32LE(60)).toBe(crc32(b.subarray(0, 60)) >>> 0)
  const seed = crc32(b.subarray(16, 32))
  const records: { kind: number; at: number; body: Uint8Array }[] = []
  let p = 64
  while (p < end) {
    const len = b.readUInt32LE(p)
    const kind = b[p + 4]!
    expect([1, 2, 3, 4], `kind at ${p}`).toContain(kind)
    expect(b[p + 5], `flags at ${p}`).toBe(0)
    expect(p + len + 10).toBeLessThanOrEqual(end)
    expect(b.readUInt32LE(p + 6 + len), `crc at ${p}`).toBe(crc32(b.subarray(p, p + 6 + len), kind === 4 ? seed : 0) >>> 0)
    records.push({ kind, at: p, body: b.subarray(p + 6, p + 6 + len) })
    p += len + 10
  }
  expect(p).toBe(end)
  expect(records.at(-1)?.kind).toBe(4)
  return records
}

describe('v1 fixtures', () => {
  it('are all present, and nothing else is', () => {
    expect(readdirSync(FIXTURES).sort()).toEqual([...NAMES, 'expected.json'].sort())
    expect(NAMES.sort()).toEqual(['books.cambium', 'empty.cambium', 'tiny.cambium', 'torn-tail.cambium'])
    for (const n of NAMES) expect(statSync(join(FIXTURES, n)).size, n).toBe(expected.files[n]!.size)
  })

  describe.each(NAMES)('%s', (name) => {
    const exp = expected.files[name]!

    it('has a valid header and records that tile the file up to the last commit', () => {
      const bytes = readFileSync(join(FIXTURES, name))
      const records = walk(bytes, exp.size - exp.tornBytes)
      expect(records.filter((r) => r.kind === 4)).toHaveLength(exp.historyLength)
      const versions = records.filter((r) => r.kind === 4).map((r) => Buffer.from(r.body).readUInt32LE(0))
      expect(versions).toEqual(exp.history.map((h) => h.version))
      if (exp.height !== undefined) expect(records.at(-1)!.body[28]).toBe(exp.height)
      if (exp.outOfLineKey !== undefined) {
        const value = exp.versions[String(exp.latest)]!.get[exp.outOfLineKey]!
        const valueRecords = records.filter((r) => r.kind === 3)
        expect(valueRecords.map((r) => Buffer.from(r.body).toString('utf8'))).toContain(value)
      }
    })

    it('opens read-only and reads every version', () => {
      const p = copy(name)
      const db = open(p, { readOnly: true })
      try {
        expect(db.recovery.tornBytes).toBe(exp.tornBytes)
        checkDb(db, exp, `${name} read-only`)
      } finally {
        db.close()
      }
      expect(statSync(p).size).toBe(exp.size) // a reader never changes the file
    })

    it('opens read-write, cuts a torn tail, and reads every version', () => {
      const p = copy(name)
      const db = open(p)
      try {
        expect(db.recovery.tornBytes).toBe(exp.tornBytes)
        checkDb(db, exp, `${name} read-write`)
      } finally {
        db.close()
      }
      expect(statSync(p).size).toBe(exp.size - exp.tornBytes)
      const again = open(p, { readOnly: true })
      try {
        expect(again.recovery.tornBytes).toBe(0)
        expect(again.version).toBe(exp.latest)
      } finally {
        again.close()
      }
    })

    it('takes a new commit, and keeps every old version readable', () => {
      const p = copy(name)
      const db = open(p)
      try {
        expect(db.put('zz:fixture-test', 'new')).toBe(exp.latest + 1)
        expect(db.delete('zz:fixture-test')).toBe(exp.latest + 2)
        expect(db.put('zz:fixture-test', 'again')).toBe(exp.latest + 3)
      } finally {
        db.close()
      }
      const db2 = open(p, { readOnly: true })
      try {
        expect(db2.recovery.tornBytes).toBe(0)
        expect(db2.version).toBe(exp.latest + 3)
        expect(db2.get('zz:fixture-test')?.toString()).toBe('again')
        expect(db2.count()).toBe(exp.versions[String(exp.latest)]!.count + 1)
        checkView(db2.checkout(exp.latest + 2), exp.versions[String(exp.latest)]!, `${name} after new commits`)
        for (const [v, want] of Object.entries(exp.versions)) checkView(db2.checkout(Number(v)), want, `${name} v${v} after new commits`)
      } finally {
        db2.close()
      }
      walk(readFileSync(p), statSync(p).size)
    })
  })

  it('torn-tail.cambium is tiny.cambium followed by a torn commit', () => {
    const tiny = readFileSync(join(FIXTURES, 'tiny.cambium'))
    const torn = readFileSync(join(FIXTURES, 'torn-tail.cambium'))
    expect(expected.files['torn-tail.cambium']!.tornBytes).toBeGreaterThan(0)
    expect(torn.length).toBe(tiny.length + expected.files['torn-tail.cambium']!.tornBytes)
    expect(torn.subarray(0, tiny.length).equals(tiny)).toBe(true)
  })

  it('books.cambium reads back with its own encodings (utf8 keys, JSON values)', () => {
    const exp = expected.files['books.cambium']!
    const db = open(copy('books.cambium'), { readOnly: true, keyEncoding: 'utf8', valueEncoding: 'json' })
    try {
      for (const [k, v] of Object.entries(exp.versions[String(exp.latest)]!.get)) expect(db.get(k)).toEqual(JSON.parse(v))
      expect(db.count({ prefix: 'book:fantasy:' })).toBe(32)
      const about = db.get('about') as { genres: string[] }
      expect(about.genres).toEqual(['fantasy', 'scifi', 'mystery', 'history', 'poetry'])
      const rollback = [...db.history({ reverse: true, limit: 1 })][0]!
      expect(rollback.rollbackOf).toBe(7)
      expect(rollback.bytes).toBe(90) // a rollback appends only its commit record
    } finally {
      db.close()
    }
  })
})
