/**
 * checkDatabase and inspectDatabase: healthy files give no errors (latest version and every
 * version), every kind of damage is found with its offset, damaged and garbage files never
 * make the checker throw or hang, and a crash at any point never makes it cry wolf.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { crc32 } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { checkDatabase, inspectDatabase, type CheckResult } from '../../src/check/index.js'
import { COMMIT_RECORD_SIZE, HEADER_SIZE } from '../../src/format/constants.js'
import type { BranchNode, ChildPointer } from '../../src/format/node-codec.js'
import { isCambiumError, open, type Database } from '../../src/index.js'
import { CRASH_MODES, SimFileIO } from '../helpers/sim-file-io.js'
import { FileBuilder } from './builder.js'

const dir = mkdtempSync(join(tmpdir(), 'cambium-check-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const tmp = (name = 'db'): string => join(dir, `${name}-${++n}.cambium`)
const FIXTURES = fileURLToPath(new URL('../fixtures/v1/', import.meta.url))

function write(bytes: Uint8Array): string {
  const p = tmp('built')
  writeFileSync(p, bytes)
  return p
}

function flip(path: string, offset: number, mask = 0x10): void {
  const b = readFileSync(path)
  b[offset]! ^= mask
  writeFileSync(path, b)
}

function errorsText(r: CheckResult): string {
  return r.errors.map((e) => `[${e.offset}] ${e.kind}: ${e.message}`).join('\n')
}

function expectError(r: CheckResult, kind: string, offset: number | undefined, pattern: RegExp): void {
  expect(r.ok, 'check must fail').toBe(false)
  const hit = r.errors.find((e) => e.kind === kind && (offset === undefined || e.offset === offset) && pattern.test(e.message))
  expect(hit, `expected a ${kind} error at ${offset} matching ${pattern}, got:\n${errorsText(r)}`).toBeDefined()
}

const rootPtr = (db: Database): ChildPointer => {
  const c = db.internals.head.commit
  return { offset: c.rootOffset, crc: c.rootCrc, count: c.count, bytes: c.treeBytes }
}

/** A multi-version database: a 3-level tree, out-of-line values, deletes, a rollback. */
function makeDb(path = tmp()): { path: string; versions: number } {
  const db = open(path, { nodeSize: 512 })
  const ops = []
  for (let i = 0; i < 3000; i++) {
    ops.push({ type: 'put' as const, key: `key:${String(i).padStart(5, '0')}`, value: i % 97 === 0 ? 'v'.repeat(300 + i) : `value ${i}` })
  }
  db.batch(ops)
  for (let i = 0; i < 20; i++) db.put(`key:${String(i * 131).padStart(5, '0')}`, `changed ${i}`)
  db.delete('key:00001')
  db.put(Buffer.from([0, 0xff, 0x80]), Buffer.alloc(1000, 7))
  db.rollback(3)
  db.put('tail', 'x')
  const versions = db.version
  db.close()
  return { path, versions }
}

/** Reads every entry of every version through the engine; the first error, if any. */
function engineReadAll(path: string): unknown {
  try {
    const db = open(path, { readOnly: true })
    try {
      for (const c of [...db.history()]) {
        const s = db.checkout(c.version)
        let k = 0
        for (const _ of s.range()) k++
        if (k !== c.entries) return new Error(`version ${c.version}: ${k} entries, history says ${c.entries}`)
      }
    } finally {
      db.close()
    }
  } catch (e) {
    return e
  }
  return undefined
}

describe('checkDatabase on healthy files', () => {
  it('finds no error in a multi-version file, for the latest version and for all', () => {
    const { path, versions } = makeDb()
    const latest = checkDatabase(path)
    expect(errorsText(latest)).toBe('')
    expect(latest.ok).toBe(true)
    expect(latest.warnings).toEqual([])
    expect(latest.version).toBe(versions)
    expect(latest.versionsChecked).toBe(1)
    expect(latest.commitsChecked).toBe(versions + 1)
    expect(latest.nodesChecked).toBeGreaterThan(20)
    expect(latest.valuesChecked).toBeGreaterThan(20)
    const all = checkDatabase(path, { allVersions: true })
    expect(errorsText(all)).toBe('')
    expect(all.versionsChecked).toBe(versions + 1)
    expect(all.nodesChecked).toBeGreaterThan(latest.nodesChecked)
    // Every record of the file is walked.
    expect(all.recordsChecked).toBeGreaterThanOrEqual(all.nodesChecked + all.valuesChecked + all.commitsChecked)
  })

  it('accepts the version-1 fixtures (the torn one with a warning)', () => {
    for (const name of ['empty', 'tiny', 'books']) {
      const r = checkDatabase(join(FIXTURES, `${name}.cambium`), { allVersions: true })
      expect(errorsText(r), name).toBe('')
      expect(r.warnings, name).toEqual([])
    }
    const torn = checkDatabase(join(FIXTURES, 'torn-tail.cambium'), { allVersions: true })
    expect(torn.ok).toBe(true)
    expect(torn.tornBytes).toBe(73)
    expect(torn.warnings[0]).toMatchObject({ kind: 'tail', offset: 483 })
  })

  it('accepts a file written by the test builder (so damage tests below change one thing only)', () => {
    const b = new FileBuilder()
    const big = b.value(Buffer.alloc(400, 1))
    const l1 = b.leaf([['a', '1'], ['b', big]])
    const l2 = b.leaf([['m', '2'], ['n', '3']])
    const r1 = b.branch(2, ['c'], [l1, l2])
    b.commit({ root: r1, height: 2 })
    const l3 = b.leaf([['m', '2'], ['n', '4']])
    b.commit({ root: b.branch(2, ['m'], [l1, l3]), height: 2 })
    b.commit({ root: r1, height: 2, rollbackOf: 1 })
    b.commit({})
    const r = checkDatabase(write(b.bytes()), { allVersions: true })
    expect(errorsText(r)).toBe('')
    expect(r.versionsChecked).toBe(5)
    expect(r.nodesChecked).toBe(5)
    expect(r.valuesChecked).toBe(1)
  })

  it('accepts compacted files (gaps in versions, re-linked chain, shared nodes)', () => {
    for (const keep of ['all', 'latest', { since: 10 }] as const) {
      const { path, versions } = makeDb()
      const db = open(path)
      db.compact({ keep })
      db.put('after', 'compaction')
      db.close()
      const r = checkDatabase(path, { allVersions: true })
      expect(errorsText(r), JSON.stringify(keep)).toBe('')
      expect(r.version).toBe(versions + 1)
      expect(r.versionsChecked).toBe(keep === 'all' ? versions + 2 : keep === 'latest' ? 2 : versions - 10 + 2)
      expect(inspectDatabase(path).header.baseSize).toBeGreaterThan(0)
    }
  })

  it('throws ERR_NOT_FOUND for a missing file', () => {
    expect(() => checkDatabase(join(dir, 'missing.cambium'))).toThrow(expect.objectContaining({ code: 'ERR_NOT_FOUND' }))
  })

  it('works through an injected FileIO', () => {
    const { path } = makeDb()
    const sim = SimFileIO.fromImage(new Map([['/db/x.cambium', readFileSync(path)]]))
    const r = checkDatabase('/db/x.cambium', { fileIO: sim, allVersions: true })
    expect(errorsText(r)).toBe('')
    expect(r.versionsChecked).toBeGreaterThan(5)
  })
})

describe('checkDatabase finds damage', () => {
  it('a bit flip in a node reachable from the latest root', () => {
    const { path } = makeDb()
    const db = open(path, { readOnly: true })
    const root = db.internals.store.decodeNode(rootPtr(db)) as BranchNode
    // The oldest child: damage to a node the last commit wrote (past its syncedUpTo) reads
    // as a torn last commit, which recovery drops, not as corruption.
    const victim = (root.children as ChildPointer[]).reduce((a, b) => (a.offset < b.offset ? a : b))
    db.close()
    flip(path, victim.offset + 12)
    const r = checkDatabase(path)
    expectError(r, 'node', victim.offset, /checksum mismatch/)
    // Reported once, although the record walk meets the record too.
    expect(r.errors.filter((e) => e.offset === victim.offset)).toHaveLength(1)
    expect(isCambiumError(engineReadAll(path), 'ERR_CORRUPT')).toBe(true)
  })

  it('a bit flip in a node only older versions reach: by the record walk, and by the tree walk with allVersions', () => {
    const path = tmp()
    const db = open(path)
    db.put('a', 'first')
    const old = db.internals.head.commit.rootOffset
    db.put('a', 'second')
    db.put('b', 'third')
    db.close()
    flip(path, old + 8)
    const latest = checkDatabase(path)
    expectError(latest, 'record', old, /fails its checksum.*not reached/)
    const all = checkDatabase(path, { allVersions: true })
    expectError(all, 'node', old, /checksum mismatch/)
    expect(all.errors[0]!.version).toBe(1)
  })

  it('a damaged out-of-line value record', () => {
    const b = new FileBuilder()
    const v = b.value(Buffer.alloc(500, 9))
    const leaf = b.leaf([['k', v]])
    b.commit({ root: leaf })
    // A later commit, so the damage is not inside the newest commit's own records (recovery
    // would fall back to the commit before it, see below).
    b.commit({ root: leaf })
    const bytes = b.bytes()
    bytes[v.offset + 100]! ^= 1
    const r = checkDatabase(write(bytes))
    expectError(r, 'value', v.offset, /checksum mismatch/)
  })

  it('a value pointer whose length disagrees with the record', () => {
    const b = new FileBuilder()
    const v = b.value(Buffer.alloc(500, 9))
    b.commit({ root: b.leaf([['k', { ...v, length: 501 }]]) })
    const r = checkDatabase(write(b.bytes()))
    expectError(r, 'value', v.offset, /holds 500 bytes, its leaf entry says 501/)
  })

  it('keys out of order in a leaf', () => {
    const b = new FileBuilder()
    const leaf = b.leaf([['b', '1'], ['a', '2']])
    b.commit({ root: leaf })
    expectError(checkDatabase(write(b.bytes())), 'node', leaf.offset, /keys out of order/)
  })

  it('separators out of order in a branch', () => {
    const b = new FileBuilder()
    const l1 = b.leaf([['a', '1']])
    const l2 = b.leaf([['m', '1']])
    const l3 = b.leaf([['x', '1']])
    const br = b.branch(2, ['z', 'c'], [l1, l2, l3])
    b.commit({ root: br, height: 2 })
    expectError(checkDatabase(write(b.bytes())), 'node', br.offset, /separators out of order/)
  })

  it('a key outside the separator bounds inherited from the parent', () => {
    const b = new FileBuilder()
    const l1 = b.leaf([['a', '1'], ['q', '2']]) // q >= separator m: belongs to the right child
    const l2 = b.leaf([['n', '3']])
    b.commit({ root: b.branch(2, ['m'], [l1, l2]), height: 2 })
    expectError(checkDatabase(write(b.bytes())), 'node', l1.offset, /key #1 "q" lies outside the range \[-inf, "m"\)/)
  })

  it('a key below the lower bound two levels down (bounds are inherited)', () => {
    const b = new FileBuilder()
    const a1 = b.leaf([['a', '1']])
    const a2 = b.leaf([['c', '1']])
    const left = b.branch(2, ['b'], [a1, a2])
    const c1 = b.leaf([['k', '1']])
    const c2 = b.leaf([['f', '1']]) // under separator "h" of the root: must be >= h
    const right = b.branch(2, ['e'], [c1, c2])
    b.commit({ root: b.branch(3, ['h'], [left, right]), height: 3 })
    const r = checkDatabase(write(b.bytes()))
    expectError(r, 'node', right.offset, /separator #0 "e" lies outside the range \["h", \+inf\)/)
    expectError(r, 'node', c1.offset, /key #0 "k" lies outside the range \["h", "e"\)/)
  })

  it('a child pointer whose count or bytes differ from the subtree', () => {
    const b = new FileBuilder()
    const l1 = b.leaf([['a', '1'], ['b', '2']])
    const l2 = b.leaf([['m', '3']])
    const br = b.branch(2, ['m'], [{ ...l1, count: 5 }, { ...l2, bytes: l2.bytes + 1 }])
    b.commit({ root: br, height: 2, count: 3, treeBytes: br.bytes - 1 })
    const r = checkDatabase(write(b.bytes()))
    expectError(r, 'node', br.offset, /child #0 pointer \(to \d+\) says 5 entries, the subtree at \d+ holds 2/)
    expectError(r, 'node', br.offset, /child #1 pointer \(to \d+\) says \d+ bytes, the subtree at \d+ holds \d+/)
  })

  it("a commit whose count or treeBytes differ from its root's", () => {
    const b = new FileBuilder()
    const leaf = b.leaf([['a', '1']])
    const c = b.commit({ root: leaf, count: 7, treeBytes: 3 })
    const r = checkDatabase(write(b.bytes()))
    expectError(r, 'commit', c, /says 7 entries, the subtree at \d+ holds 1/)
    expectError(r, 'commit', c, /says 3 bytes/)
  })

  it('heights that do not match', () => {
    const b = new FileBuilder()
    const l1 = b.leaf([['a', '1']])
    const l2 = b.leaf([['m', '1']])
    const br = b.branch(3, ['m'], [l1, l2])
    b.commit({ root: br, height: 3 })
    const r = checkDatabase(write(b.bytes()))
    expectError(r, 'node', l1.offset, /leaf where a node of height 2 was expected/)
    const b2 = new FileBuilder()
    const leaf = b2.leaf([['a', '1']])
    b2.commit({ root: leaf, height: 2 })
    expectError(checkDatabase(write(b2.bytes())), 'node', leaf.offset, /leaf where a node of height 2 was expected/)
  })

  it('a pointer naming a record with another checksum', () => {
    const b = new FileBuilder()
    const l1 = b.leaf([['a', '1']])
    const l2 = b.leaf([['m', '1']])
    const br = b.branch(2, ['m'], [l1, { ...l2, crc: l2.crc ^ 1 }])
    b.commit({ root: br, height: 2 })
    expectError(checkDatabase(write(b.bytes())), 'node', l2.offset, /not the one its pointer names/)
  })

  it('a child pointer that points forward', () => {
    const b = new FileBuilder()
    const l1 = b.leaf([['a', '1']])
    const br = b.branch(2, ['m'], [l1, { offset: 100_000, crc: 0, count: 1, bytes: 10 }])
    b.commit({ root: br, height: 2, count: 2 })
    expectError(checkDatabase(write(b.bytes())), 'node', br.offset, /child #1 pointer points forward/)
  })

  it('a wrong skip pointer, a rollback that restores another tree, a commit off the chain', () => {
    const b = new FileBuilder()
    const l1 = b.leaf([['a', '1']])
    b.commit({ root: l1 }) // v1
    const l2 = b.leaf([['a', '2']])
    const v2 = b.commit({ root: l2, skipOffset: 0 }) // v2: must skip to v0
    const orphanAt = b.commit({ root: l1, version: 9 })
    b.commits.pop()
    const v3 = b.commit({ root: l2, rollbackOf: 1, prevOffset: v2 }) // restores l2, not l1
    const r = checkDatabase(write(b.bytes()), { allVersions: true })
    expectError(r, 'commit', v2, /skip pointer of version 2 names nothing; it must name the newest commit at or below version 0/)
    expectError(r, 'commit', v3, /rollback of version 3 to version 1 does not restore its tree/)
    expectError(r, 'commit', orphanAt, /version 9 is not on the chain/)
  })

  it('a damaged commit record in the middle of the chain', () => {
    const { path } = makeDb()
    const db = open(path, { readOnly: true })
    const head = db.internals.head
    const prev = db.internals.log.prev(head)!
    db.close()
    flip(path, prev.offset + 20)
    const r = checkDatabase(path)
    expectError(r, 'commit', prev.offset, /commit record checksum mismatch.*older versions cannot be reached/)
    expect(r.version).toBe(head.commit.version)
  })

  it('a damaged length field: the record walk resumes at the next known record', () => {
    const path = tmp()
    const db = open(path)
    db.put('a', 'first')
    const old = db.internals.head.commit.rootOffset
    db.put('b', 'second')
    db.close()
    flip(path, old + 1, 0x40) // bodyLength += 16384
    const r = checkDatabase(path)
    expectError(r, 'record', old, /runs past the end of the data.*skips to the next known record/)
  })

  it('a damaged header checksum, and still checks the rest', () => {
    const { path } = makeDb()
    flip(path, 33) // createdAt
    const r = checkDatabase(path)
    expectError(r, 'header', 0, /header checksum mismatch/)
    expect(r.errors).toHaveLength(1)
    expect(r.nodesChecked).toBeGreaterThan(20)
    // A damaged version field is damage too, not an unsupported version.
    const p2 = makeDb().path
    flip(p2, 8, 0x04)
    const r2 = checkDatabase(p2)
    expect(errorsText(r2)).toMatch(/^\[0\] header: file header checksum mismatch/)
    expect(r2.errors).toHaveLength(1)
  })

  it('non-zero reserved header bytes (with a valid header checksum)', () => {
    const b = new FileBuilder()
    b.commit({ root: b.leaf([['a', '1']]) })
    const bytes = b.bytes()
    bytes[50] = 1
    bytes.set(Buffer.from(Uint32Array.of(crc32(bytes.subarray(0, 60))).buffer), 60)
    expectError(checkDatabase(write(bytes)), 'header', 0, /reserved header byte 50 is not zero/)
  })

  it('a file that is not a database: short, bad magic, random bytes', () => {
    const short = tmp()
    writeFileSync(short, Buffer.from('hello'))
    expectError(checkDatabase(short), 'file', undefined, /shorter than the 64-byte header/)
    const garbage = tmp()
    writeFileSync(garbage, Buffer.alloc(5000, 0xab))
    expectError(checkDatabase(garbage), 'file', undefined, /bad magic/)
  })

  it('no valid commit at all', () => {
    const b = new FileBuilder()
    const bytes = b.bytes()
    bytes[HEADER_SIZE + 30]! ^= 1
    const r = checkDatabase(write(bytes))
    expectError(r, 'commit', undefined, /no valid commit record/)
    expect(r.version).toBeUndefined()
  })

  it('a truncated file: a torn tail and OK for the rest', () => {
    const { path, versions } = makeDb()
    const size = readFileSync(path).length
    truncateSync(path, size - 40)
    const r = checkDatabase(path, { allVersions: true })
    expect(errorsText(r)).toBe('')
    expect(r.version).toBe(versions - 1)
    expect(r.tornBytes).toBeGreaterThan(0)
    expect(r.warnings[0]!.message).toMatch(/torn tail/)
  })

  it('damage in the newest commit makes recovery fall back: a warning names the intact lost commit', () => {
    const path = tmp()
    const db = open(path)
    db.put('a', '1')
    db.put('b', '2')
    const newest = db.internals.head
    db.close()
    flip(path, newest.commit.rootOffset + 8)
    const r = checkDatabase(path)
    expect(r.ok).toBe(true)
    expect(r.version).toBe(1)
    expect(r.tornBytes).toBe(readFileSync(path).length - newest.commit.prevOffset - COMMIT_RECORD_SIZE)
    expect(r.warnings.map((w) => w.message).join('\n')).toMatch(
      new RegExp(`intact commit record of version 2 that recovery cannot use because the leaf at ${newest.commit.rootOffset} that it depends on is damaged`),
    )
  })

  it('caps the number of errors recorded', () => {
    const b = new FileBuilder()
    const leaves = []
    for (let i = 0; i < 30; i++) leaves.push(b.leaf([[`k${String(i).padStart(2, '0')}`, 'v']]))
    const seps = leaves.slice(1).map((_, i) => `k${String(i + 1).padStart(2, '0')}`)
    b.commit({ root: b.branch(2, seps, leaves.map((l) => ({ ...l, count: 2 }))), height: 2, count: 60 })
    const r = checkDatabase(write(b.bytes()), { maxErrors: 5 })
    expect(r.errors).toHaveLength(5)
    expect(r.errorsOmitted).toBeGreaterThan(20)
    expect(r.ok).toBe(false)
  })
})

describe('checkDatabase never throws, never hangs, never misses what the engine trips on', () => {
  it('random damage anywhere: if check (all versions) says OK, the engine reads every version', () => {
    const { path } = makeDb()
    const pristine = readFileSync(path)
    let rng = 12345
    const rand = (k: number): number => {
      rng = (Math.imul(rng, 1103515245) + 12345) >>> 0
      return rng % k
    }
    let damaged = 0
    for (let t = 0; t < Number(process.env["CAMBIUM_FUZZ_N"] ?? 60); t++) {
      const b = Buffer.from(pristine)
      const kind = t % 3
      if (kind === 0) b[HEADER_SIZE + rand(b.length - HEADER_SIZE)]! ^= 1 << rand(8)
      else if (kind === 1) {
        const at = HEADER_SIZE + rand(b.length - HEADER_SIZE - 64)
        for (let i = 0; i < 16; i++) b[at + i] = rand(256)
      } else b.fill(0, HEADER_SIZE + rand(b.length - HEADER_SIZE - 200), undefined)
      const p = tmp('fuzz')
      writeFileSync(p, b)
      const started = Date.now()
      const r = checkDatabase(p, { allVersions: true })
      expect(Date.now() - started).toBeLessThan(10_000)
      const engine = engineReadAll(p)
      if (r.ok) expect(engine, `check said OK but the engine failed: ${String(engine)}`).toBeUndefined()
      else damaged++
      if (engine !== undefined) expect(r.ok).toBe(false)
    }
    expect(damaged).toBeGreaterThan(10)
  })

  it('a crash at any point of a workload never yields an error, in any crash mode', () => {
    const io = new SimFileIO({ seed: 5, powersafeOverwrite: true })
    const work = (fio: SimFileIO, durability: 'full' | 'none'): void => {
      const db = open('/d/x.cambium', { fileIO: fio, durability, nodeSize: 512 })
      const ops = []
      for (let i = 0; i < 200; i++) ops.push({ type: 'put' as const, key: `k${i}`, value: i % 50 === 0 ? 'x'.repeat(400) : `v${i}` })
      db.batch(ops)
      for (let i = 0; i < 6; i++) db.put(`k${i * 7}`, `w${i}`)
      db.delete('k3')
      db.rollback(2)
      db.close()
    }
    work(io, 'full')
    const total = io.ops
    let checked = 0
    for (const durability of ['full', 'none'] as const) {
      for (let at = 1; at <= total; at++) {
        const sim = new SimFileIO({ seed: at, plan: { crashAt: at }, powersafeOverwrite: true })
        try {
          work(sim, durability)
        } catch {
          // the simulated crash
        }
        CRASH_MODES.forEach((mode, i) => {
          const after = sim.crash(mode, at * 8 + i)
          if (!after.exists('/d/x.cambium')) return
          const r = checkDatabase('/d/x.cambium', { fileIO: after, allVersions: true })
          expect(errorsText(r), `crash at op ${at}, mode ${mode}, durability ${durability}`).toBe('')
          checked++
        })
      }
    }
    expect(checked).toBeGreaterThan(50)
  })
})

describe('inspectDatabase', () => {
  it('reports versions, sizes, tree shape and the largest keys and values', () => {
    const { path, versions } = makeDb()
    const r = inspectDatabase(path)
    const db = open(path, { readOnly: true })
    const head = db.internals.head
    const count = db.count()
    db.close()
    expect(r.versions).toEqual({ first: 0, last: versions, count: versions + 1 })
    expect(r.entries).toBe(count)
    expect(r.treeHeight).toBe(head.commit.height)
    expect(r.liveBytes).toBe(head.commit.treeBytes + COMMIT_RECORD_SIZE)
    expect(r.fileSize).toBe(readFileSync(path).length)
    expect(r.deadBytes).toBe(r.fileSize - HEADER_SIZE - r.liveBytes)
    expect(r.deadRatio).toBeCloseTo(r.deadBytes / r.fileSize)
    expect(r.nodes.leaves + r.nodes.branches).toBe(checkDatabase(path).nodesChecked)
    expect(r.nodes.leafBytes + r.nodes.branchBytes + r.values.outOfLineBytes).toBe(head.commit.treeBytes)
    expect(r.values.inline + r.values.outOfLine).toBe(count)
    expect(r.largestKeys.map((k) => k.size)).toEqual([9, 9, 9, 9, 9])
    expect(r.largestValues.map((k) => k.size)).toEqual([300 + 2910, 300 + 2813, 300 + 2716, 300 + 2619, 300 + 2522])
    expect(Buffer.from(r.largestValues[0]!.key).toString()).toBe('key:02910')
    expect(r.header.readVersion).toBe(1)
    expect(r.tornBytes).toBe(0)
    expect(r.problems).toEqual([])
  })

  it('lists damage met on the way, and refuses a file that is not a database', () => {
    const { path } = makeDb()
    const db = open(path, { readOnly: true })
    const root = db.internals.store.decodeNode(rootPtr(db)) as BranchNode
    const victim = root.children[0] as ChildPointer
    db.close()
    flip(path, victim.offset + 12)
    const r = inspectDatabase(path)
    expect(r.problems[0]).toMatchObject({ kind: 'node', offset: victim.offset })
    const garbage = tmp()
    copyFileSync(path, garbage)
    flip(garbage, 0, 0xff)
    expect(() => inspectDatabase(garbage)).toThrow(expect.objectContaining({ code: 'ERR_NOT_A_DATABASE' }))
  })
})
