/**
 * The writing commands end to end: put, del, rollback (each prints the new version), a
 * locked file (exit 3), and dump | load restoring a database byte for byte, binary included.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { cambium, entries, makeBooksDb, tempDir } from './helpers.js'

const tmp = tempDir('cambium-cli-write-')
afterAll(() => tmp.cleanup())

describe('put, del, rollback', () => {
  it('print the new version; the database holds what they wrote', () => {
    const db = tmp.path('w.cambium')
    expect(cambium(['put', db, 'a', '1'])).toMatchObject({ status: 1, stdout: '' })
    expect(existsSync(db)).toBe(false)
    expect(cambium(['put', db, 'a', '1', '--create'])).toMatchObject({ status: 0, stdout: '1\n', stderr: '' })
    expect(cambium(['put', db, 'b', '2']).stdout).toBe('2\n')
    expect(cambium(['put', db, '00ff', 'ff00', '--format', 'hex']).stdout).toBe('3\n')
    expect(cambium(['put', db, '"k"', '{"x": [1, 2]}', '--format', 'json', '--json']).stdout).toBe('{"version":4}\n')
    expect(cambium(['del', db, 'a'])).toMatchObject({ status: 0, stdout: '5\n', stderr: '' })
    const absent = cambium(['del', db, 'zzz'])
    expect(absent).toMatchObject({ status: 0, stdout: '6\n' })
    expect(absent.stderr).toMatch(/"zzz" was not present/)
    expect(entries(db).map(([k, v]) => [k.toString('hex'), v.toString('hex')])).toEqual([
      ['00ff', 'ff00'],
      [Buffer.from('"k"').toString('hex'), Buffer.from('{"x":[1,2]}').toString('hex')],
      [Buffer.from('b').toString('hex'), Buffer.from('2').toString('hex')],
    ])
    expect(cambium(['rollback', db, '--to', '2'])).toMatchObject({ status: 0, stdout: '7\n', stderr: '' })
    expect(entries(db).map(([k, v]) => `${k}=${v}`)).toEqual(['a=1', 'b=2'])
    expect(JSON.parse(cambium(['rollback', db, '--to', '4', '--json']).stdout)).toEqual({ version: 8, rollbackOf: 4 })
    const log = cambium(['log', db, '--gte', '7']).stdout
    expect(log).toMatch(/^v7 .* rollback of v2\nv8 .* rollback of v4\n$/)
    const missing = cambium(['rollback', db, '--to', '42'])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/ERR_VERSION_NOT_FOUND/)
    expect(cambium(['check', db, '--all-versions']).stdout).toBe('OK\n')
  })

  it('refuse bad input with a usage error (exit 2) and change nothing', () => {
    const db = tmp.path('u.cambium')
    cambium(['put', db, 'a', '1', '--create'])
    const badHex = cambium(['put', db, 'zz', '1', '--format', 'hex'])
    expect(badHex.status).toBe(2)
    expect(badHex.stderr).toMatch(/ERR_USAGE: the key is not valid hex/)
    expect(cambium(['put', db, 'a', '{', '--value-format', 'json']).status).toBe(2)
    expect(cambium(['put', db, '', 'x']).stderr).toMatch(/ERR_INVALID_KEY/)
    expect(cambium(['log', db]).stdout.trimEnd().split('\n')).toHaveLength(2)
  })

  it('a file locked by another writer: exit 3 (ERR_LOCKED)', () => {
    const db = tmp.path('locked.cambium')
    const holder = open(db)
    try {
      holder.put('a', '1')
      for (const args of [['put', db, 'k', 'v'], ['del', db, 'a'], ['rollback', db, '--to', '0']]) {
        const r = cambium(args)
        expect(r.status, args.join(' ')).toBe(3)
        expect(r.stderr).toMatch(/ERR_LOCKED: .*locked by process/)
        expect(r.stderr).not.toMatch(/\n\s+at /)
      }
      const j = cambium(['put', db, 'k', 'v', '--json'])
      expect(j.status).toBe(3)
      expect(JSON.parse(j.stdout).error.code).toBe('ERR_LOCKED')
      // Reads do not need the lock.
      expect(cambium(['get', db, 'a'])).toMatchObject({ status: 0, stdout: '1\n' })
    } finally {
      holder.close()
    }
    expect(cambium(['put', db, 'k', 'v']).status).toBe(0)
  })
})

/** A database with binary keys and values: invalid UTF-8, a BOM, NULs, large (out-of-line) values, empty values. */
function makeBinaryDb(path: string): void {
  const db = open(path)
  const ops = []
  for (let i = 0; i < 2500; i++) {
    const key = Buffer.from([i >> 8, i & 0xff, 0xff, 0xfe, 0x80])
    const value = i % 10 === 0 ? Buffer.alloc(300 + i, i & 0xff) : Buffer.from([0xc3, 0x28, i & 0xff, 0])
    ops.push({ type: 'put' as const, key, value })
  }
  ops.push({ type: 'put' as const, key: Buffer.from('\ufeffbom', 'utf8'), value: Buffer.from('\ufeffvalue', 'utf8') })
  ops.push({ type: 'put' as const, key: Buffer.from('text'), value: Buffer.from('{"a":1}') })
  ops.push({ type: 'put' as const, key: Buffer.from('not canonical json'), value: Buffer.from('{ "a": 1 }') })
  ops.push({ type: 'put' as const, key: Buffer.from('empty'), value: Buffer.alloc(0) })
  ops.push({ type: 'put' as const, key: Buffer.from('tab\tand\nnewline'), value: Buffer.from('x') })
  db.batch(ops)
  db.put('later', 'v2')
  db.close()
}

const same = (a: [Buffer, Buffer][], b: [Buffer, Buffer][]): void => {
  expect(a.length).toBe(b.length)
  for (let i = 0; i < a.length; i++) {
    expect(a[i]![0].equals(b[i]![0]), `key #${i}`).toBe(true)
    expect(a[i]![1].equals(b[i]![1]), `value #${i}`).toBe(true)
  }
}

describe('dump and load', () => {
  it('a dump loads back to identical contents, byte for byte, in every format', () => {
    const src = tmp.path('bin.cambium')
    makeBinaryDb(src)
    const want = entries(src)
    for (const format of ['base64', 'hex', 'utf8', 'json']) {
      const dump = cambium(['dump', src, '--format', format])
      expect(dump.status, format).toBe(0)
      expect(dump.stderr).toBe('')
      const lines = dump.stdout.trimEnd().split('\n')
      expect(JSON.parse(lines[0]!)).toMatchObject({ cambium: 1, version: 2, entries: want.length, keyFormat: format, valueFormat: format })
      expect(lines).toHaveLength(want.length + 1)
      const dst = tmp.path(`copy-${format}.cambium`)
      const load = cambium(['load', dst], { input: dump.stdout })
      expect(load.status, load.stderr).toBe(0)
      expect(load.stdout).toBe(`loaded ${want.length} entries into ${dst} in 3 commits (versions 1 to 3)\n`)
      same(entries(dst), want)
    }
  })

  it('utf8 and json dumps fall back to base64 fields where the bytes need it', () => {
    const src = tmp.path('fallback.cambium')
    makeBinaryDb(src)
    const rows = cambium(['dump', src, '--format', 'utf8']).stdout.trimEnd().split('\n').slice(1).map((l) => JSON.parse(l))
    expect(rows).toContainEqual({ key: 'text', value: '{"a":1}' })
    expect(rows).toContainEqual({ key: '\ufeffbom', value: '\ufeffvalue' })
    expect(rows).toContainEqual({ key: 'empty', value: '' })
    expect(rows.find((r) => r.keyBase64 !== undefined && r.valueBase64 !== undefined)).toBeDefined()
    const json = cambium(['dump', src, '--key-format', 'utf8', '--value-format', 'json']).stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(json[0]).toMatchObject({ keyFormat: 'utf8', valueFormat: 'json' })
    expect(json).toContainEqual({ key: 'text', value: { a: 1 } })
    expect(json).toContainEqual({ key: 'not canonical json', valueBase64: Buffer.from('{ "a": 1 }').toString('base64') })
  })

  it('--at dumps an old version; load reads --input and adds to an existing database', () => {
    const src = tmp.path('books.cambium')
    makeBooksDb(src)
    const dump = cambium(['dump', src, '--at', '2'])
    expect(JSON.parse(dump.stdout.split('\n')[0]!)).toMatchObject({ version: 2, entries: 64 })
    const file = tmp.path('dump.jsonl')
    writeFileSync(file, dump.stdout)
    const dst = tmp.path('dst.cambium')
    cambium(['put', dst, 'zzz', 'extra', '--create'])
    const load = cambium(['load', dst, '--input', file, '--batch', '10', '--json'])
    expect(load.status).toBe(0)
    expect(JSON.parse(load.stdout)).toEqual({ entries: 64, commits: 7, firstVersion: 2, version: 8 })
    const got = entries(dst)
    expect(got).toHaveLength(65)
    same(got.slice(0, 64), entries(src, 2))
  })

  it('load: a header-less input, explicit formats, and bad input with its line number', () => {
    const dst = tmp.path('hl.cambium')
    const input = ['{"key":"a","value":"1"}', '', '{"key":"b","valueBase64":"AAE="}'].join('\n')
    expect(cambium(['load', dst, '--format', 'utf8'], { input }).status).toBe(0)
    expect(entries(dst).map(([k, v]) => [k.toString(), v.toString('hex')])).toEqual([
      ['a', '31'],
      ['b', '0001'],
    ])
    const cases: [string, RegExp][] = [
      ['{"key":"YQ==","value":"MQ=="}\nnot json\n', /line 2: not JSON/],
      ['{"key":"YQ=="}\n', /line 1: no "value"/],
      ['{"key":"","value":"MQ=="}\n', /line 1: a key must be 1 to 4096 bytes/],
      ['{"key":"!!","value":"MQ=="}\n', /line 1: "key" is not valid base64/],
      ['{"cambium":2}\n', /line 1: dump format 2/],
      ['[1]\n', /line 1: expected a JSON object/],
    ]
    for (const [text, message] of cases) {
      const r = cambium(['load', tmp.path('bad.cambium')], { input: text })
      expect(r.status, text).toBe(1)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    const missing = cambium(['load', tmp.path('x.cambium'), '--input', tmp.path('none.jsonl')])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/ERR_NOT_FOUND: .*no such input file/)
  })
})
