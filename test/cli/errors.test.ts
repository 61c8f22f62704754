/**
 * Failures end to end: usage errors (exit 2), missing and foreign files (exit 1), damaged
 * files (check names the offsets; reads fail with ERR_CORRUPT and no stack trace), a torn
 * tail, --json errors, and a closed stdout pipe.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BranchNode, ChildPointer } from '../../src/format/node-codec.js'
import { open } from '../../src/index.js'
import { BIN, cambium, makeBooksDb, tempDir } from './helpers.js'

const tmp = tempDir('cambium-cli-errors-')
afterAll(() => tmp.cleanup())

let books: string
beforeAll(() => {
  books = tmp.path('books.cambium')
  makeBooksDb(books)
})

const noStack = (s: string): void => expect(s).not.toMatch(/\n\s+at |Error: .*\n.*node:/)

describe('usage errors exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown option', ['scan', 'x.cambium', '--bogus'], /unknown option '--bogus'/],
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['no command', [], /Usage: cambium/],
    ['missing argument', ['get', 'x.cambium'], /missing required argument 'key'/],
    ['bad --at', ['get', 'x.cambium', 'k', '--at', 'two'], /--at <version>.*must be a version/],
    ['negative --at', ['scan', 'x.cambium', '--at', '-1'], /--at <version>/],
    ['bad --limit', ['scan', 'x.cambium', '--limit', '1.5'], /--limit <n>.*non-negative integer/],
    ['bad --format', ['get', 'x.cambium', 'k', '--format', 'ebcdic'], /must be one of utf8, hex, base64, json/],
    ['missing --to', ['rollback', 'x.cambium'], /required option '--to <version>'/],
    ['bad --to', ['rollback', 'x.cambium', '--to', 'latest'], /must be a version/],
  ]
  for (const [what, args, message] of cases) {
    it(what, () => {
      const r = cambium(args)
      expect(r.status).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(message)
    })
  }

  it('with --json the error is also JSON on stdout', () => {
    const r = cambium(['scan', 'x.cambium', '--json', '--limit', 'x'])
    expect(r.status).toBe(2)
    expect(JSON.parse(r.stdout).error.code).toBe('ERR_USAGE')
  })

  it('--help and --version exit 0', () => {
    const help = cambium(['--help'])
    expect(help.status).toBe(0)
    for (const c of ['inspect', 'check', 'log', 'get', 'scan', 'put', 'del', 'rollback', 'dump', 'load']) expect(help.stdout).toMatch(new RegExp(`\\n  ${c} `))
    expect(cambium(['scan', '--help']).stdout).toMatch(/--keys-only/)
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    expect(cambium(['--version'])).toMatchObject({ status: 0, stdout: `${pkg.version}\n` })
  })
})

describe('missing and foreign files exit 1', () => {
  const reads = (f: string): string[][] => [
    ['inspect', f],
    ['check', f],
    ['log', f],
    ['get', f, 'k'],
    ['scan', f],
    ['dump', f],
  ]

  it('a missing file', () => {
    const f = tmp.path('missing.cambium')
    for (const args of [...reads(f), ['del', f, 'k'], ['rollback', f, '--to', '0'], ['put', f, 'k', 'v']]) {
      const r = cambium(args)
      expect(r.status, args[0]).toBe(1)
      expect(r.stderr, args[0]).toMatch(/ERR_NOT_FOUND: .*missing\.cambium: no such database file/)
      noStack(r.stderr)
    }
    const j = cambium(['get', f, 'k', '--json'])
    expect(JSON.parse(j.stdout)).toEqual({ error: { code: 'ERR_NOT_FOUND', message: `${f}: no such database file` } })
  })

  it('a garbage file: not a database', () => {
    const f = tmp.path('garbage.bin')
    writeFileSync(f, Buffer.alloc(4096, 0x5a))
    for (const args of reads(f)) {
      const r = cambium(args)
      expect(r.status, args[0]).toBe(1)
      if (args[0] === 'check') {
        expect(r.stdout).toBe('1 error found\n  file: not a cambium database (bad magic bytes)\n')
      } else {
        expect(r.stderr, args[0]).toMatch(/ERR_NOT_A_DATABASE: .*not a cambium database/)
      }
      noStack(r.stderr)
    }
    const tiny = tmp.path('tiny.bin')
    writeFileSync(tiny, 'hi')
    expect(cambium(['get', tiny, 'k']).stderr).toMatch(/ERR_NOT_A_DATABASE: .*2 bytes, shorter than the 64-byte header/)
    expect(cambium(['put', tiny, 'k', 'v']).status).toBe(1)
    expect(readFileSync(tiny, 'utf8')).toBe('hi')
  })
})

describe('damaged files', () => {
  /** A copy of a 3-level database with one bit flipped in a leaf reachable from the latest root. */
  function corrupted(): { file: string; offset: number; key: string } {
    const file = tmp.path('corrupt.cambium')
    const db = open(file)
    const ops = []
    for (let i = 0; i < 3000; i++) ops.push({ type: 'put' as const, key: `key:${String(i).padStart(5, '0')}`, value: `value ${i}` })
    db.batch(ops)
    db.put('zzz', 'last')
    const c = db.internals.head.commit
    let node = db.internals.store.decodeNode({ offset: c.rootOffset, crc: c.rootCrc, count: c.count, bytes: c.treeBytes }) as BranchNode
    while (node.height > 2) node = db.internals.store.decodeNode(node.children[0] as ChildPointer) as BranchNode
    const leaf = node.children[1] as ChildPointer
    const key = [...db.checkout(c.version).keys({ limit: 1, gte: Buffer.from(node.keys[0]!) })][0]!.toString()
    db.close()
    const copy = tmp.path('corrupt-copy.cambium')
    copyFileSync(file, copy)
    const b = readFileSync(copy)
    b[leaf.offset + 15]! ^= 0x08
    writeFileSync(copy, b)
    return { file: copy, offset: leaf.offset, key }
  }

  it('check exits 1 and names the offset; get and scan fail with ERR_CORRUPT, no stack trace', () => {
    const { file, offset, key } = corrupted()
    const r = cambium(['check', file])
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`^1 error found\\n  \\[offset ${offset}, version 2\\] node: leaf checksum mismatch`))
    const j = JSON.parse(cambium(['check', file, '--json']).stdout)
    expect(j.ok).toBe(false)
    expect(j.errors[0]).toMatchObject({ kind: 'node', offset })

    const get = cambium(['get', file, key])
    expect(get.status).toBe(1)
    expect(get.stdout).toBe('')
    expect(get.stderr).toMatch(new RegExp(`ERR_CORRUPT: .*record checksum mismatch \\(at offset ${offset}\\)`))
    noStack(get.stderr)
    // A key elsewhere still reads.
    expect(cambium(['get', file, 'key:00000'])).toMatchObject({ status: 0, stdout: 'value 0\n' })

    const scan = cambium(['scan', file, '--keys-only'])
    expect(scan.status).toBe(1)
    expect(scan.stderr).toMatch(/ERR_CORRUPT/)
    noStack(scan.stderr)
    expect(scan.stdout.startsWith('key:00000\n')).toBe(true) // what came before the damage

    const dump = cambium(['dump', file])
    expect(dump.status).toBe(1)
    expect(cambium(['inspect', file]).status).toBe(1)
  })

  it('a truncated file: check reports the torn tail and OK for the rest; reads see the version before', () => {
    const file = tmp.path('torn.cambium')
    copyFileSync(books, file)
    const size = statSync(file).size
    truncateSync(file, size - 25)
    const r = cambium(['check', file])
    expect(r.status).toBe(0)
    const j = JSON.parse(cambium(['check', file, '--json']).stdout)
    const end = j.commitOffset + 90
    expect(j).toMatchObject({ ok: true, version: 4, tornBytes: size - 25 - end })
    // The torn tail: what is left of the last commit (its nodes and 65 bytes of its commit record).
    expect(r.stdout).toBe(
      `OK\nwarning: [offset ${end}] tail: ${size - 25 - end} bytes after the newest valid commit (version 4, ending at ${end}) are a torn tail: ` +
        'a read-write open cuts them off, a read-only open ignores them\n',
    )
    expect(cambium(['log', file]).stdout.trimEnd().split('\n')).toHaveLength(5)
    expect(JSON.parse(cambium(['inspect', file, '--json']).stdout).tornBytes).toBe(size - 25 - end)
    // A write cuts the torn tail off and goes on from version 4.
    expect(cambium(['put', file, 'k', 'v']).stdout).toBe('5\n')
    expect(cambium(['check', file, '--all-versions']).stdout).toBe('OK\n')
  })
})

describe('output', () => {
  it('a closed stdout pipe ends a long scan quietly', () => {
    const file = tmp.path('long.cambium')
    const db = open(file)
    const ops = []
    for (let i = 0; i < 20000; i++) ops.push({ type: 'put' as const, key: `k${String(i).padStart(6, '0')}`, value: 'v'.repeat(40) })
    db.batch(ops)
    db.close()
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" scan "${file}" | head -n 1`], { encoding: 'utf8' })
    expect(r.stdout).toBe(`k000000\t${'v'.repeat(40)}\n`)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0
  it.skipIf(!hasScript)('colour on a terminal (util-linux script gives the command a pty), none with NO_COLOR', () => {
    const run = (noColor: string | undefined): string => {
      // CI is unset too: Node itself turns colours off when it sees CI=true (as CI runs have).
      const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: noColor, FORCE_COLOR: undefined, NODE_DISABLE_COLORS: undefined, CI: undefined, TERM: 'xterm' }
      for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k]
      return spawnSync('script', ['-qec', `"${process.execPath}" "${BIN}" check "${books}"`, '/dev/null'], { encoding: 'utf8', env }).stdout
    }
    expect(run(undefined)).toContain('\x1b[32mOK\x1b[39m')
    expect(run('1')).toMatch(/^OK\r?\n/)
  })

  it('no colour codes when stdout is not a terminal, nor with NO_COLOR', () => {
    for (const env of [{}, { NO_COLOR: '1' }] as Record<string, string>[]) {
      const r = cambium(['check', books], { env })
      expect(r.stdout).toBe('OK\n')
      expect(r.stderr).not.toMatch(/\x1b\[/)
    }
  })
})
