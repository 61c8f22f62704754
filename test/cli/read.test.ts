/**
 * The read-only commands end to end through the built bin: inspect, check, log, get, scan
 * (stdout, stderr, exit code), on the demo catalogue.
 */
import { statSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { bookKey, books, cambium, FIELDS, makeBooksDb, tempDir } from './helpers.js'

const tmp = tempDir('cambium-cli-read-')
afterAll(() => tmp.cleanup())

let db: string
const hobbit = books.find((b) => b.title === 'The Hobbit')!

beforeAll(() => {
  db = tmp.path('books.cambium')
  makeBooksDb(db)
  // v6: a price change; v7: a rollback to v5
  const h = open(db, { keyEncoding: 'utf8', valueEncoding: 'json' })
  h.put(bookKey(hobbit, 'price'), 9.99)
  h.rollback(5)
  h.close()
})

describe('inspect', () => {
  it('prints a table', () => {
    const r = cambium(['inspect', db])
    expect(r.status).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/│ versions\s+│ 0 to 7 \(8 commits\)/)
    expect(r.stdout).toMatch(/│ latest commit\s+│ v7 at \S+Z, rollback of v5/)
    expect(r.stdout).toMatch(/│ entries\s+│ 160 /)
    expect(r.stdout).toMatch(new RegExp(`│ file size\\s+│ ${statSync(db).size.toLocaleString('en-US')} bytes`))
    expect(r.stdout).toMatch(/largest keys/)
    expect(r.stdout).toMatch(/largest values/)
    expect(r.stdout).not.toMatch(/\x1b\[/) // no colour when stdout is not a TTY
  })

  it('--json gives the report as JSON', () => {
    const r = cambium(['inspect', db, '--json'])
    expect(r.status).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.versions).toEqual({ first: 0, last: 7, count: 8 })
    expect(j.entries).toBe(160)
    expect(j.fileSize).toBe(statSync(db).size)
    expect(j.liveBytes + j.deadBytes + 64).toBe(j.fileSize)
    expect(j.largestKeys).toHaveLength(5)
    expect(typeof j.largestKeys[0].key).toBe('string')
    expect(j.largestValues[0].size).toBeGreaterThanOrEqual(j.largestValues[4].size)
    expect(j.treeHeight).toBe(2) // 160 entries: leaves ~2/3 full under one level of branches
    expect(j.tornBytes).toBe(0)
  })
})

describe('check', () => {
  it('prints OK and exits 0 on a healthy file', () => {
    const r = cambium(['check', db])
    expect(r.status).toBe(0)
    expect(r.stdout).toBe('OK\n')
    expect(r.stderr).toMatch(/checked latest version 7: 1 version tree, 8 commits, \d+ nodes/)
    const all = cambium(['check', db, '--all-versions'])
    expect(all.status).toBe(0)
    expect(all.stdout).toBe('OK\n')
    expect(all.stderr).toMatch(/8 version trees/)
  })

  it('--json', () => {
    const r = cambium(['check', db, '--json', '--all-versions'])
    expect(r.status).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ ok: true, errors: [], version: 7, versionsChecked: 8, commitsChecked: 8 })
  })
})

describe('log', () => {
  it('one line per commit, oldest first, with rollbacks', () => {
    const r = cambium(['log', db])
    expect(r.status).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(8)
    expect(lines[0]).toMatch(/^v0\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\s+0 entries\s+90 bytes$/)
    expect(lines[1]).toMatch(/^v1\s+\S+Z\s+32 entries\s+\d+ bytes$/)
    expect(lines[7]).toMatch(/^v7\s+\S+Z\s+160 entries\s+90 bytes  rollback of v5$/)
  })

  it('--gte, --lte, --reverse, --limit, --json', () => {
    const r = cambium(['log', db, '--gte', '2', '--lte', '6', '--reverse', '--limit', '2'])
    expect(r.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0])).toEqual(['v6', 'v5'])
    const j = cambium(['log', db, '--json', '--gte', '6'])
    const rows = j.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(rows.map((x) => x.version)).toEqual([6, 7])
    expect(rows[1]).toMatchObject({ entries: 160, bytes: 90, rollbackOf: 5 })
    expect(rows[0].rollbackOf).toBeNull()
    expect(Date.parse(rows[0].time)).toBeGreaterThan(0)
  })
})

describe('get', () => {
  it('prints the value; --at reads an old version', () => {
    expect(cambium(['get', db, bookKey(hobbit, 'title')])).toMatchObject({ status: 0, stdout: '"The Hobbit"\n', stderr: '' })
    expect(cambium(['get', db, bookKey(hobbit, 'price'), '--at', '6']).stdout).toBe('9.99\n')
    expect(cambium(['get', db, bookKey(hobbit, 'price')]).stdout).toBe(`${hobbit.price}\n`)
  })

  it('an absent key: exit 1 and a message on stderr', () => {
    const r = cambium(['get', db, 'book:nope'])
    expect(r.status).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/ERR_KEY_NOT_FOUND: key "book:nope" not found at version 7/)
    expect(cambium(['get', db, bookKey(hobbit, 'title'), '--at', '0']).status).toBe(1)
  })

  it('--json, and formats for the key and the value', () => {
    const j = JSON.parse(cambium(['get', db, bookKey(hobbit, 'year'), '--json']).stdout)
    expect(j).toEqual({ key: bookKey(hobbit, 'year'), value: '1937', version: 7 })
    const jj = JSON.parse(cambium(['get', db, bookKey(hobbit, 'author'), '--json', '--value-format', 'json']).stdout)
    expect(jj).toEqual({ key: bookKey(hobbit, 'author'), value: 'J. R. R. Tolkien', version: 7 })
    const hexKey = Buffer.from(bookKey(hobbit, 'title')).toString('hex')
    expect(cambium(['get', db, hexKey, '--key-format', 'hex', '--value-format', 'base64']).stdout).toBe(
      Buffer.from('"The Hobbit"').toString('base64') + '\n',
    )
    expect(cambium(['get', db, hexKey, '--format', 'hex']).stdout).toBe(Buffer.from('"The Hobbit"').toString('hex') + '\n')
    expect(cambium(['get', db, bookKey(hobbit, 'title'), '--value-format', 'json']).stdout).toBe('"The Hobbit"\n')
    const absent = cambium(['get', db, 'nope', '--json'])
    expect(absent.status).toBe(1)
    expect(JSON.parse(absent.stdout)).toEqual({ error: { code: 'ERR_KEY_NOT_FOUND', message: 'key "nope" not found at version 7' } })
  })

  it('a version the file does not hold: exit 1', () => {
    const r = cambium(['get', db, 'x', '--at', '99'])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/ERR_VERSION_NOT_FOUND: .*version 99 is not in this file; it holds versions 0 to 7/)
  })
})

describe('scan', () => {
  const poetry = books.filter((b) => b.genre === 'poetry').sort((a, b) => (a.isbn < b.isbn ? -1 : 1))

  it('key<TAB>value lines in key order', () => {
    const r = cambium(['scan', db, '--prefix', 'book:poetry:'])
    expect(r.status).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(poetry.length * 4)
    const first = poetry[0]!
    const sortedFields = [...FIELDS].sort()
    expect(lines.slice(0, 4)).toEqual(sortedFields.map((f) => `${bookKey(first, f)}\t${JSON.stringify(first[f])}`))
  })

  it('bounds, reverse, limit, keys only', () => {
    const k = (i: number, f: string): string => bookKey(poetry[i]!, f)
    const r = cambium(['scan', db, '--gte', k(1, 'author'), '--lt', k(2, 'author'), '--keys-only'])
    expect(r.stdout.trimEnd().split('\n')).toEqual(['author', 'price', 'title', 'year'].map((f) => k(1, f)))
    const rev = cambium(['scan', db, '--prefix', 'book:poetry:', '--reverse', '--limit', '2', '--keys-only'])
    expect(rev.stdout).toBe(`${k(poetry.length - 1, 'year')}\n${k(poetry.length - 1, 'title')}\n`)
    const gt = cambium(['scan', db, '--gt', k(0, 'year'), '--lte', k(1, 'price'), '--keys-only'])
    expect(gt.stdout).toBe(`${k(1, 'author')}\n${k(1, 'price')}\n`)
    expect(cambium(['scan', db, '--limit', '0']).stdout).toBe('')
  })

  it('--at, --json and --format', () => {
    const at1 = cambium(['scan', db, '--at', '1', '--keys-only'])
    expect(at1.stdout.trimEnd().split('\n')).toHaveLength(32)
    const j = cambium(['scan', db, '--prefix', bookKey(hobbit, ''), '--json', '--value-format', 'json'])
    const rows = j.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(rows).toEqual([
      { key: bookKey(hobbit, 'author'), value: 'J. R. R. Tolkien' },
      { key: bookKey(hobbit, 'price'), value: hobbit.price },
      { key: bookKey(hobbit, 'title'), value: 'The Hobbit' },
      { key: bookKey(hobbit, 'year'), value: 1937 },
    ])
    const hex = cambium(['scan', db, '--prefix', Buffer.from(bookKey(hobbit, 'y')).toString('hex'), '--format', 'hex'])
    expect(hex.stdout).toBe(`${Buffer.from(bookKey(hobbit, 'year')).toString('hex')}\t${Buffer.from('1937').toString('hex')}\n`)
  })
})
