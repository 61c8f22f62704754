/**
 * T11: every bad input of the error table (/work/shared/notes/reliability.md §3 "T11: expected
 * errors", and README "Errors") gives its documented code, and a message that states the
 * problem (the facts: the path, the size, the limit, the valid range...) and says what to do.
 *
 * Rows whose message does not yet say what to do are listed in MESSAGE_GAPS: their
 * "says what to do" check runs as it.fails (it passes while the gap is there and turns red
 * once the message is improved; then delete the entry). Codes and facts are always checked.
 *
 * Real files in a temp directory (T11 is about what users meet); the lock case uses a real
 * second process. The CLI rows spawn the built bin (test/cli/errors.test.ts covers the CLI
 * in depth).
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeU32 } from '../../src/format/bytes.js'
import { crc32 } from '../../src/format/checksum.js'
import { HEADER_CRC_OFFSET, HEADER_READ_VERSION_OFFSET, HEADER_SIZE, HEADER_WRITE_VERSION_OFFSET } from '../../src/format/constants.js'
import { CambiumError, open, type Database } from '../../src/index.js'
import { killLiveChildren, spawnChild } from '../process/child.js'

const repo = path.resolve(import.meta.dirname, '../..')
const BIN = path.join(repo, 'dist/cli/main.js')
// Made at collection time: the rows below are built (files written, handles opened) then, so
// each gets a test named after it.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-bad-'))
let n = 0
const file = (name: string): string => path.join(dir, `${++n}-${name}`)

beforeAll(() => {
  if (fs.existsSync(BIN)) return
  const r = spawnSync('npm', ['run', 'build'], { cwd: repo, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`)
}, 120_000)

afterAll(async () => {
  await killLiveChildren()
  fs.rmSync(dir, { recursive: true, force: true })
})

type Db = Database<string, string>
const utf8 = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const

/** A database with versions 0..3 (keys a, b, c). */
function makeDb(name = 'db.cambium'): string {
  const p = file(name)
  const db = open(p, utf8)
  db.put('a', '1')
  db.put('b', '2')
  db.put('c', '3')
  db.close()
  return p
}

function withHeader(p: string, edit: (b: Buffer) => void, fixCrc = true): string {
  const b = fs.readFileSync(p)
  edit(b)
  if (fixCrc) writeU32(b, HEADER_CRC_OFFSET, crc32(b.subarray(0, HEADER_CRC_OFFSET)))
  const out = file('edited.cambium')
  fs.writeFileSync(out, b)
  return out
}

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (e) {
    return e
  }
  throw new Error('expected an error, but the call returned')
}

/** An imperative that tells the user what to do (checked on the message without its path). */
const SAYS_WHAT_TO_DO = /\b(check|restore|run|use|pass|open|upgrade|free|close|reopen|retry|start|wait|remove|delete|choose|drop|give)\b/i

interface Row {
  /** The input, as the table names it. */
  input: string
  code: string
  /** Each call must throw a CambiumError with `code`. */
  calls: Array<[string, () => unknown]>
  /** What each message must state (the facts). */
  facts: RegExp[]
  /** What it must say to do; default SAYS_WHAT_TO_DO. */
  advice?: RegExp
  /** Runs after the calls (e.g. the file is unchanged, no lock left). */
  after?: () => void
}

/** Rows whose message states the problem but not what to do. Empty since the six found here
 *  (wrong magic, empty/short file, no valid commit, damaged header) were given advice. */
const MESSAGE_GAPS = new Set<string>([])

const rows: Row[] = []
const add = (r: Row): void => void rows.push(r)

// ---- files ------------------------------------------------------------------------------

function opens(p: string, modes: Array<'ro' | 'rw'> = ['ro', 'rw']): Array<[string, () => unknown]> {
  return modes.map((m) => [`open ${m === 'ro' ? 'read-only' : 'read-write'}`, () => open(p, m === 'ro' ? { readOnly: true } : {}).close()])
}

/** After a failed open: the file is byte-for-byte unchanged and no lock or temp file is left. */
function untouched(p: string, bytes: Buffer): () => void {
  return () => {
    expect(fs.readFileSync(p).equals(bytes), `${p} was changed by a failed open`).toBe(true)
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(p)) && f !== path.basename(p))).toEqual([])
  }
}

function fileRow(input: string, code: string, bytes: Buffer, facts: RegExp[], advice?: RegExp): void {
  const p = file('input.cambium')
  fs.writeFileSync(p, bytes)
  add({ input, code, calls: opens(p), facts: [new RegExp(escape(p)), ...facts], advice, after: untouched(p, bytes) })
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function defineRows(): void {
  const valid = fs.readFileSync(makeDb())
  fileRow('wrong magic', 'ERR_NOT_A_DATABASE', Buffer.alloc(4096, 0x5a), [/not a cambium database/, /magic/])
  fileRow('empty file', 'ERR_NOT_A_DATABASE', Buffer.alloc(0), [/0 bytes/, /64-byte header/])
  fileRow('short file (63 bytes)', 'ERR_NOT_A_DATABASE', valid.subarray(0, 63), [/63 bytes/, /64-byte header/])
  fileRow('no valid commit (a header and zeros)', 'ERR_CORRUPT', Buffer.concat([valid.subarray(0, HEADER_SIZE), Buffer.alloc(4096)]), [/no valid commit/, /4160 bytes/])
  fileRow('no valid commit (a header and random bytes)', 'ERR_CORRUPT', Buffer.concat([valid.subarray(0, HEADER_SIZE), Buffer.from(Array.from({ length: 999 }, (_, i) => (i * 97 + 13) & 0xff))]), [/no valid commit/])
  {
    const b = Buffer.from(valid)
    b[40]! ^= 1
    fileRow('damaged header (checksum)', 'ERR_CORRUPT', b, [/header/, /checksum/])
  }
  {
    const p = withHeader(makeDb(), (b) => b.writeUInt16LE(2, HEADER_READ_VERSION_OFFSET))
    const bytes = fs.readFileSync(p)
    add({ input: 'future format version (readVersion 2)', code: 'ERR_UNSUPPORTED_VERSION', calls: opens(p), facts: [/version 2/, /reads version 1/], advice: /upgrade cambium/, after: untouched(p, bytes) })
  }
  {
    const p = withHeader(makeDb(), (b) => b.writeUInt16LE(2, HEADER_WRITE_VERSION_OFFSET))
    const bytes = fs.readFileSync(p)
    add({
      input: 'future write version (writeVersion 2), read-write open',
      code: 'ERR_UNSUPPORTED_VERSION',
      calls: opens(p, ['rw']),
      facts: [/write version 2/, /writes version 1/],
      advice: /upgrade cambium, or open with \{ readOnly: true \}/,
      after: () => {
        untouched(p, bytes)()
        const ro = open(p, { ...utf8, readOnly: true }) // readable
        expect(ro.get('c')).toBe('3')
        ro.close()
      },
    })
  }
  {
    const p = path.join(dir, 'does-not-exist.cambium')
    add({ input: 'missing file, create: false', code: 'ERR_NOT_FOUND', calls: [['open', () => open(p, { create: false })]], facts: [new RegExp(escape(p)), /no such database file/], advice: /pass \{ create: true \}/ })
    add({
      input: 'missing file, read-only',
      code: 'ERR_NOT_FOUND',
      calls: [['open', () => open(p, { readOnly: true })]],
      facts: [new RegExp(escape(p)), /no such database file/],
      // Read-only cannot create: naming the missing path is the whole story.
      advice: /no such database file/,
      after: () => expect(fs.existsSync(p)).toBe(false),
    })
  }

  // ---- keys and values ----------------------------------------------------------------------

  const p = makeDb()
  const db = open(p, utf8) as Db
  const bin = open(makeDb('bin.cambium')) // binary encodings
  const json = open(makeDb('json.cambium'), { keyEncoding: 'utf8', valueEncoding: 'json' })
  afterAllDbs.push(db, bin, json)
  const writes = (key: unknown, value: unknown): Array<[string, () => unknown]> => [
    ['put', () => (bin as Database<unknown, unknown>).put(key as never, value as never)],
    ['batch', () => bin.batch([{ type: 'put', key: key as never, value: value as never }])],
    ['transaction', () => bin.transaction((tx) => tx.put(key as never, value as never))],
  ]
  add({
    input: 'empty key',
    code: 'ERR_INVALID_KEY',
    calls: [...writes('', 'v'), ...writes(new Uint8Array(0), 'v'), ['get', () => db.get('')], ['delete', () => db.delete('')], ['has', () => db.has('')]],
    facts: [/key must not be empty/],
    advice: /use at least one byte/,
    after: () => expect(bin.version).toBe(3),
  })
  add({
    input: 'huge key (4097 bytes)',
    code: 'ERR_KEY_TOO_LARGE',
    calls: [...writes('k'.repeat(4097), 'v'), ['get', () => db.get('k'.repeat(4097))], ['delete', () => db.delete('€'.repeat(1366))]],
    facts: [/key is (4097|4098) bytes/, /the limit is 4096 bytes/],
    advice: /the limit is 4096 bytes/,
    after: () => {
      expect(bin.version).toBe(3)
      expect(db.put('k'.repeat(4096), 'at the limit')).toBe(4) // the limit itself is fine
    },
  })
  add({
    input: 'huge value (2^30 + 1 bytes)',
    code: 'ERR_VALUE_TOO_LARGE',
    // Zero-filled and never touched: the pages are not really allocated.
    calls: writes('k', new Uint8Array(2 ** 30 + 1)),
    facts: [/value is 1073741825 bytes/, /the limit is 1073741824 bytes/],
    advice: /the limit is 1073741824 bytes/,
    after: () => expect(bin.version).toBe(3),
  })
  for (const [what, v] of [
    ['number', 42],
    ['boolean', true],
    ['object', { a: 1 }],
    ['array', [1, 2]],
  ] as const) {
    add({
      input: `wrong value type (${what}) under the binary encoding`,
      code: 'ERR_INVALID_VALUE',
      calls: writes('k', v),
      facts: [new RegExp(`got ${what === 'object' ? 'Object' : what === 'array' ? 'Array' : what}`)],
      advice: /value must be a Uint8Array or a string/,
    })
    add({
      input: `wrong key type (${what})`,
      code: 'ERR_INVALID_KEY',
      calls: [...writes(v, 'v'), ['get', () => (bin as Database<unknown, unknown>).get(v as never)]],
      facts: [new RegExp(`got ${what === 'object' ? 'Object' : what === 'array' ? 'Array' : what}`)],
      advice: /key must be a Uint8Array or a string/,
    })
  }
  for (const [what, v] of [
    ['null', null],
    ['undefined', undefined],
  ] as const) {
    add({ input: `${what} value`, code: 'ERR_INVALID_VALUE', calls: writes('k', v), facts: [new RegExp(`got ${what}`)], advice: /value must be a Uint8Array or a string/ })
    add({ input: `${what} key`, code: 'ERR_INVALID_KEY', calls: writes(v, 'v'), facts: [new RegExp(`got ${what}`)], advice: /key must be a Uint8Array or a string/ })
  }
  {
    const circular: Record<string, unknown> = {}
    circular['self'] = circular
    add({
      input: "a value JSON cannot hold (valueEncoding 'json': undefined, BigInt, a cycle, a function)",
      code: 'ERR_INVALID_VALUE',
      calls: [undefined, 10n, circular, () => 1].map((v) => [`put ${typeof v}`, () => json.put('k', v as never)] as [string, () => unknown]),
      facts: [/got (undefined|bigint|Object|function)/],
      advice: /value must be a JSON-serialisable value/,
      after: () => expect(json.version).toBe(3),
    })
  }

  // ---- handles --------------------------------------------------------------------------------

  {
    const p2 = makeDb()
    const h = open(p2, utf8)
    const snap = h.checkout(2)
    const iter = h.range()
    h.close()
    add({
      input: 'closed handle (and its snapshots and iterators)',
      code: 'ERR_CLOSED',
      calls: [
        ['put', () => h.put('a', 'b')],
        ['get', () => h.get('a')],
        ['range', () => [...h.range()]],
        ['checkout', () => h.checkout(1)],
        ['history', () => [...h.history()]],
        ['version', () => h.version],
        ['snapshot.get', () => snap.get('a')],
        ['iterator.next', () => iter.next()],
        ['compact', () => h.compact()],
      ],
      facts: [new RegExp(escape(p2)), /the database is closed/],
      advice: /open it again to use it/,
      after: () => h.close(), // idempotent
    })
  }
  {
    const p3 = makeDb()
    const ro = open(p3, { ...utf8, readOnly: true })
    afterAllDbs.push(ro)
    add({
      input: 'write on a read-only handle',
      code: 'ERR_READ_ONLY',
      calls: [
        ['put', () => ro.put('a', 'b')],
        ['delete', () => ro.delete('a')],
        ['batch', () => ro.batch([{ type: 'put', key: 'a', value: 'b' }])],
        ['transaction', () => ro.transaction((tx) => tx.put('a', 'b'))],
        ['rollback', () => ro.rollback(1)],
        ['compact', () => ro.compact()],
      ],
      facts: [new RegExp(escape(p3)), /opened with \{ readOnly: true \}/],
      advice: /open without it/,
      after: () => expect(ro.version).toBe(3),
    })
  }
  add({
    input: 'unknown version (checkout, rollback)',
    code: 'ERR_VERSION_NOT_FOUND',
    calls: [
      ['checkout(99)', () => db.checkout(99)],
      ['rollback(99)', () => db.rollback(99)],
    ],
    facts: [/version 99 is not in this file/, /it holds versions 0 to \d+/],
    advice: /it holds versions 0 to \d+/,
  })
  {
    const p4 = makeDb()
    const h = open(p4, utf8)
    h.compact({ keep: 'latest' })
    afterAllDbs.push(h)
    add({
      input: 'a version compaction dropped',
      code: 'ERR_VERSION_NOT_FOUND',
      calls: [['checkout(1)', () => h.checkout(1)]],
      facts: [/version 1 is not in this file/, /holds versions 3 to 3/, /compaction may have dropped/],
      advice: /holds versions 3 to 3/,
    })
  }
  {
    let tx: { put(k: string, v: string): void; get(k: string): unknown } | undefined
    db.transaction((t) => {
      tx = t
    })
    add({
      input: 'transaction used after its callback returned',
      code: 'ERR_TRANSACTION_CLOSED',
      calls: [
        ['tx.put', () => tx!.put('a', 'b')],
        ['tx.get', () => tx!.get('a')],
      ],
      facts: [/this transaction has ended/],
      advice: /start a new db\.transaction\(\)/,
    })
  }
}

const afterAllDbs: Array<{ close(): void }> = []
afterAll(() => {
  for (const d of afterAllDbs) d.close()
})

/** The message without the file paths in it (so a path cannot pass the advice check). */
const withoutPaths = (m: string): string => m.split(dir).join('<dir>')

defineRows()

describe('bad inputs give the documented code and a message that says what to do (T11)', () => {
  it('the table is complete', () => {
    expect(rows.length).toBeGreaterThanOrEqual(25)
    for (const gap of MESSAGE_GAPS) expect(rows.map((r) => r.input), `MESSAGE_GAPS names an unknown row '${gap}'`).toContain(gap)
    const report = rows.map((r) => `${r.code.padEnd(24)} ${r.input}${MESSAGE_GAPS.has(r.input) ? '  [message does not say what to do]' : ''}`)
    console.log(`[bad-input] ${rows.length} rows, ${rows.reduce((a, r) => a + r.calls.length, 0)} calls:\n  ${report.join('\n  ')}`)
  })

  for (const r of rows) {
    it(`${r.input}: ${r.code}${MESSAGE_GAPS.has(r.input) ? ' (facts only: see MESSAGE GAP)' : ', the facts, what to do'}`, () => {
      for (const [what, call] of r.calls) {
        const e = thrown(call)
        const where = `${r.input}: ${what}`
        if (!(e instanceof CambiumError)) throw new Error(`${where}: expected CambiumError ${r.code}, got ${String(e)}`)
        expect(e.code, `${where}: ${e.message}`).toBe(r.code)
        for (const f of r.facts) expect(e.message, `${where}: the message must state ${f}`).toMatch(f)
        if (!MESSAGE_GAPS.has(r.input)) expect(withoutPaths(e.message), `${where}: the message must say what to do`).toMatch(r.advice ?? SAYS_WHAT_TO_DO)
      }
      r.after?.()
    })
  }

})

describe('bad inputs that involve other processes or the CLI (T11)', () => {
  it('locked file: ERR_LOCKED naming the holder (another process, then this process), with what to do', async () => {
    const p = makeDb()
    const holder = spawnChild('writer.mjs', 'hold', p)
    const pid = Number((await holder.waitFor(/^READY (\d+) \d+$/))[1])
    try {
      const e = thrown(() => open(p, utf8))
      expect(e instanceof CambiumError && e.code).toBe('ERR_LOCKED')
      const m = (e as Error).message
      expect(m).toMatch(new RegExp(`locked by process ${pid}\\b`))
      expect(m).toMatch(/Open with \{ readOnly: true \} to read, or close the other writer/)
      const ro = open(p, { ...utf8, readOnly: true }) // the way out the message offers
      expect(ro.get('c')).toBe('3')
      ro.close()
    } finally {
      holder.send('CLOSE')
      await holder.exitsCleanly()
    }
    const mine = open(p, utf8)
    try {
      const e = thrown(() => open(p, utf8))
      expect(e instanceof CambiumError && e.code).toBe('ERR_LOCKED')
      expect((e as Error).message).toMatch(new RegExp(`locked by this process \\(pid ${process.pid}\\)`))
    } finally {
      mine.close()
    }
  })

  it('compact() while a compactAsync() runs: ERR_BUSY, wait for it', async () => {
    const p = file('busy.cambium')
    const db = open(p)
    db.batch(Array.from({ length: 20_000 }, (_, i) => ({ type: 'put' as const, key: `key:${String(i).padStart(6, '0')}`, value: `value ${i}` })))
    const running = db.compactAsync({ sliceMs: 0.01 })
    try {
      const e = thrown(() => db.compact())
      expect(e instanceof CambiumError && e.code).toBe('ERR_BUSY')
      expect((e as Error).message).toMatch(/a compaction is already running; wait for it to finish/)
    } finally {
      await running
      db.close()
    }
  })

  it('API misuse: TypeError/RangeError whose message names the fix', () => {
    const p = makeDb()
    const cases: Array<[string, () => unknown, ErrorConstructor, RegExp]> = [
      ['misspelt option', () => open(p, { Durability: 'full' } as never), TypeError, /unknown open option 'Durability'; did you mean 'durability'\?/],
      ['unknown option', () => open(p, { speed: 1 } as never), TypeError, /the options are: create, readOnly, durability/],
      ['bad durability', () => open(p, { durability: 'fast' as never }), TypeError, /must be 'full' or 'none'/],
      ['nodeSize out of range', () => open(p, { nodeSize: 3 }), RangeError, /integer from 512 to 65536, got 3/],
      ['no path', () => open(undefined as never), TypeError, /needs the database file's path/],
    ]
    const db = open(p, utf8)
    try {
      cases.push(
        ['negative version', () => db.checkout(-1), RangeError, /non-negative integer version, got -1/],
        ['batch op type', () => db.batch([{ type: 'zap', key: 'a' } as never]), TypeError, /must be 'put' or 'del', got "zap"/],
        ['batch not an array', () => db.batch('x' as never), TypeError, /takes an array of/],
      )
      for (const [what, fn, type, msg] of cases) {
        const e = thrown(fn)
        expect(e, what).toBeInstanceOf(type)
        expect((e as Error).message, what).toMatch(msg)
      }
    } finally {
      db.close()
    }
  })

  it('CLI: a usage error exits 2 with usage on stderr; a missing file and a damaged file exit 1', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })
    const bad = run(['frobnicate'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/unknown command 'frobnicate'/)
    const missing = run(['get', path.join(dir, 'nope.cambium'), 'k'])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/ERR_NOT_FOUND: .*no such database file/)
    const p = makeDb()
    const b = fs.readFileSync(p)
    b[HEADER_SIZE + 3]! ^= 0x10 // the creation commit's record: damage on the chain
    fs.writeFileSync(p, b)
    const check = run(['check', p])
    expect(check.status).toBe(1)
    expect(check.stdout).toMatch(/^\d+ errors? found\n/)
  })
})
