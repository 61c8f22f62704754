/**
 * The fuzzer's inputs: a corpus of real small databases (built on SimFileIO and normalised so
 * the corpus is the same on every run, plus the v1 fixtures), and seeded mutations of them.
 *
 * Mutations (each input applies 1–4; `describe` says which, for the report and for replay):
 *   flip       1–8 random bit flips anywhere
 *   run        a run of 1–64 bytes set to 00, FF, one random byte or random bytes
 *   truncate   cut at a random offset (half the time inside the last 600 bytes)
 *   splice     a range of this file replaced by a range of another corpus file (lengths differ)
 *   dup        a range of this file copied to another offset (inserted or overwriting) or appended
 *   garbage    random bytes: a whole random file, a valid header + random bytes, or a random tail
 *   commit     commit framing pasted: the 6 framing bytes + random body, a copy of one of this
 *              file's own commit records (its salted CRC is valid), or a forged newest commit
 *              (the last one with a field changed and its salted CRC recomputed) appended
 *   deep       a byte of a node or value record changed and every CRC up to the commit records
 *              recomputed (the record's, its parents' pointers and theirs, the commit's rootCrc
 *              and salted CRC): damage the checksums cannot see, aimed at the decoders and
 *              structural checks
 *   header     a header field changed (versions, flags, reserved, baseSize, salt) and the
 *              header CRC recomputed
 */
import { readU32, writeU32 } from '../../src/format/bytes.js'
import { crc32 } from '../../src/format/checksum.js'
import {
  COMMIT_RECORD_SIZE,
  HEADER_CRC_OFFSET,
  HEADER_SALT_OFFSET,
  HEADER_SALT_SIZE,
  HEADER_SIZE,
  KIND_BRANCH,
  KIND_COMMIT,
  KIND_LEAF,
  KIND_VALUE,
  RECORD_HEADER_SIZE,
  RECORD_OVERHEAD,
} from '../../src/format/constants.js'
import { open } from '../../src/index.js'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Rng } from '../helpers/rng.js'
import { SimFileIO } from '../helpers/sim-file-io.js'

export interface Seed {
  name: string
  bytes: Uint8Array
}

export interface FuzzInput {
  bytes: Uint8Array
  seed: string
  mutations: string[]
}

// ---------------------------------------------------------------------------------------
// Records

export interface Rec {
  off: number
  /** whole record length (body + 10) */
  len: number
  kind: number
}

/** Records tiled from the header while the framing is plausible (stops at the first bad length). */
export function records(b: Uint8Array): Rec[] {
  const out: Rec[] = []
  let pos = HEADER_SIZE
  while (pos + RECORD_OVERHEAD <= b.length) {
    const len = readU32(b, pos) + RECORD_OVERHEAD
    if (pos + len > b.length) break
    out.push({ off: pos, len, kind: b[pos + 4]! })
    pos += len
  }
  return out
}

const saltSeed = (b: Uint8Array): number => crc32(b.subarray(HEADER_SALT_OFFSET, HEADER_SALT_OFFSET + HEADER_SALT_SIZE))

function recordCrc(b: Uint8Array, r: Rec): number {
  const data = b.subarray(r.off, r.off + r.len - 4)
  return r.kind === KIND_COMMIT ? crc32(data, saltSeed(b)) : crc32(data)
}

/** Recomputes a record's CRC (salted for commits); returns [old, new]. */
function fixRecordCrc(b: Uint8Array, r: Rec): [number, number] {
  const at = r.off + r.len - 4
  const old = readU32(b, at)
  const now = recordCrc(b, r)
  writeU32(b, at, now)
  return [old, now]
}

function fixHeaderCrc(b: Uint8Array): void {
  writeU32(b, HEADER_CRC_OFFSET, crc32(b.subarray(0, HEADER_CRC_OFFSET)))
}

const u48At = (b: Uint8Array, at: number): number => readU32(b, at) + (b[at + 4]! | (b[at + 5]! << 8)) * 0x100000000
const u64At = (b: Uint8Array, at: number): number => readU32(b, at) + readU32(b, at + 4) * 0x100000000
function writeU64(b: Uint8Array, at: number, v: number): void {
  writeU32(b, at, v >>> 0)
  writeU32(b, at + 4, Math.floor(v / 0x100000000))
}

/**
 * The record at `child` changed its CRC from `oldCrc`: rewrite every pointer to it (a branch
 * child pointer or a leaf's out-of-line value reference: u48 offset then u32 crc; a commit's
 * rootOffset/rootCrc) and, recursively, the CRCs of the records holding them.
 */
function propagate(b: Uint8Array, recs: Rec[], child: number, oldCrc: number, newCrc: number, depth = 0): number {
  if (oldCrc === newCrc || depth > 80) return 0
  let fixed = 0
  for (const r of recs) {
    if (r.off <= child) continue
    const body = r.off + RECORD_HEADER_SIZE
    const end = r.off + r.len - 4
    let hit = false
    if (r.kind === KIND_COMMIT) {
      if (u64At(b, body + 16) === child && readU32(b, body + 24) === oldCrc) {
        writeU32(b, body + 24, newCrc)
        hit = true
      }
    } else if (r.kind === KIND_BRANCH || r.kind === KIND_LEAF) {
      for (let p = body; p + 10 <= end; p++) {
        if (readU32(b, p + 6) === oldCrc && u48At(b, p) === child) {
          writeU32(b, p + 6, newCrc)
          hit = true
        }
      }
    }
    if (hit) {
      fixed++
      const [o, n] = fixRecordCrc(b, r)
      fixed += propagate(b, recs, r.off, o, n, depth + 1)
    }
  }
  return fixed
}

// ---------------------------------------------------------------------------------------
// Corpus

const FIXED_SALT = Uint8Array.from({ length: HEADER_SALT_SIZE }, (_, i) => (i * 37 + 11) & 0xff)
const T0 = 1_700_000_000_000

/** Fixed salt, creation time and commit times (commit CRCs recomputed): the same bytes every run. */
export function normalize(src: Uint8Array): Uint8Array {
  const b = new Uint8Array(src)
  b.set(FIXED_SALT, HEADER_SALT_OFFSET)
  writeU64(b, 32, T0)
  fixHeaderCrc(b)
  for (const r of records(b)) {
    if (r.kind !== KIND_COMMIT || r.len !== COMMIT_RECORD_SIZE) continue
    const body = r.off + RECORD_HEADER_SIZE
    writeU64(b, body + 8, T0 + u64At(b, body) * 1000)
    fixRecordCrc(b, r)
  }
  return b
}

const PATH = '/corpus/db.cambium'

function build(name: string, nodeSize: number, fn: (db: ReturnType<typeof openSim>) => void, after?: (b: Uint8Array) => Uint8Array): Seed {
  const sim = new SimFileIO({ seed: 1 })
  const db = openSim(sim, nodeSize)
  fn(db)
  db.close()
  let bytes = normalize(sim.fileBytes(PATH))
  if (after) bytes = after(bytes)
  return { name, bytes }
}

function openSim(sim: SimFileIO, nodeSize: number) {
  return open(PATH, { fileIO: sim, keyEncoding: 'utf8', nodeSize, durability: 'none' })
}

function value(rng: Rng, n: number): Buffer {
  return Buffer.from(rng.bytes(n))
}

/** The corpus: real databases of several shapes (each under ~60 KB), and the v1 fixtures. */
export function corpus(): Seed[] {
  const rng = new Rng(4242)
  const seeds: Seed[] = []
  seeds.push(build('one-put', 512, (db) => void db.put('a', Buffer.from('1'))))
  seeds.push(
    build('small', 512, (db) => {
      for (let i = 0; i < 6; i++) db.batch(Array.from({ length: 6 }, (_, j) => ({ type: 'put' as const, key: `k${i}${j}`, value: value(rng, 5 + j * 9) })))
      db.delete('k00')
    }),
  )
  const deep = (db: ReturnType<typeof openSim>): void => {
    for (let i = 0; i < 8; i++) {
      db.batch(Array.from({ length: 50 }, (_, j) => ({ type: 'put' as const, key: `key/${String(i * 50 + j).padStart(4, '0')}`, value: value(rng, j % 11 === 0 ? 300 + j * 7 : 8 + (j % 40)) })))
    }
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 2) db.delete(`key/${String(i * 31).padStart(4, '0')}`)
      else db.put(`key/${String(i * 17).padStart(4, '0')}`, value(rng, i % 4 === 0 ? 500 : 20))
    }
    db.rollback(5)
    db.transaction((tx) => {
      tx.put('tx/a', value(rng, 40))
      tx.delete('key/0001')
    })
    db.put('empty', Buffer.alloc(0))
  }
  seeds.push(build('deep', 512, deep))
  seeds.push(build('deep-1k', 1024, deep))
  seeds.push(
    build('compacted', 512, (db) => {
      deep(db)
      db.compact({ keep: { since: 12 } })
      db.put('after', value(rng, 30))
    }),
  )
  seeds.push(
    build(
      'torn-tail',
      512,
      (db) => {
        deep(db)
        db.put('torn', value(rng, 700))
      },
      (b) => b.slice(0, b.length - 50),
    ),
  )
  seeds.push(
    build('long-keys', 512, (db) => {
      for (let i = 0; i < 5; i++) db.put(`${String(i)}`.padEnd(3000 + i * 200, String.fromCharCode(97 + i)), value(rng, i * 3))
      db.put('b'.repeat(4096), Buffer.alloc(0))
    }),
  )
  seeds.push(
    build('many-versions', 512, (db) => {
      for (let i = 0; i < 120; i++) db.put(`v${i % 7}`, value(rng, 3 + (i % 13)))
    }),
  )
  const fixtures = path.resolve(import.meta.dirname, '../fixtures/v1')
  for (const f of fs.readdirSync(fixtures).filter((x) => x.endsWith('.cambium')).sort()) {
    seeds.push({ name: `fixture:${f}`, bytes: new Uint8Array(fs.readFileSync(path.join(fixtures, f))) })
  }
  return seeds
}

// ---------------------------------------------------------------------------------------
// Mutations

type Mutator = (b: Uint8Array, rng: Rng, seeds: Seed[]) => [Uint8Array, string]

const randOff = (rng: Rng, b: Uint8Array): number => (b.length === 0 ? 0 : rng.int(b.length))
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

const flip: Mutator = (b, rng) => {
  const out = new Uint8Array(b)
  const k = rng.range(1, 8)
  const at: number[] = []
  for (let i = 0; i < k && out.length > 0; i++) {
    const o = randOff(rng, out)
    out[o]! ^= 1 << rng.int(8)
    at.push(o)
  }
  return [out, `flip ${k} bits @${at.join(',')}`]
}

const run: Mutator = (b, rng) => {
  const out = new Uint8Array(b)
  if (out.length === 0) return [out, 'run (empty file)']
  const o = randOff(rng, out)
  const n = Math.min(rng.range(1, 64), out.length - o)
  const style = rng.int(4)
  const c = rng.int(256)
  for (let i = 0; i < n; i++) out[o + i] = style === 0 ? 0 : style === 1 ? 0xff : style === 2 ? c : rng.int(256)
  return [out, `run ${['00', 'ff', `const ${c}`, 'random'][style]} x${n} @${o}`]
}

const truncate: Mutator = (b, rng) => {
  const at = rng.bool() ? Math.max(0, b.length - rng.range(1, 600)) : rng.int(b.length + 1)
  return [b.slice(0, at), `truncate @${at}/${b.length}`]
}

const splice: Mutator = (b, rng, seeds) => {
  const other = rng.pick(seeds).bytes
  const a = randOff(rng, b)
  const del = rng.int(Math.min(512, b.length - a) + 1)
  const s = randOff(rng, other)
  const ins = rng.int(Math.min(512, other.length - s) + 1)
  return [cat(b.subarray(0, a), other.subarray(s, s + ins), b.subarray(a + del)), `splice @${a} -${del} +${ins} from another file @${s}`]
}

const dup: Mutator = (b, rng) => {
  if (b.length === 0) return [b, 'dup (empty file)']
  const a = randOff(rng, b)
  const n = rng.range(1, Math.min(1024, b.length - a))
  const piece = b.subarray(a, a + n)
  const mode = rng.int(3)
  if (mode === 0) return [cat(b, piece), `dup [${a},+${n}) appended`]
  const c = randOff(rng, b)
  if (mode === 1) return [cat(b.subarray(0, c), piece, b.subarray(c)), `dup [${a},+${n}) inserted @${c}`]
  const out = new Uint8Array(b)
  out.set(piece.subarray(0, out.length - c), c)
  return [out, `dup [${a},+${n}) over @${c}`]
}

const garbage: Mutator = (b, rng) => {
  const mode = rng.int(3)
  if (mode === 0) {
    const n = rng.int(6000)
    return [rng.bytes(n), `garbage: ${n} random bytes`]
  }
  if (mode === 1) {
    const n = rng.int(4000)
    return [cat(b.subarray(0, Math.min(HEADER_SIZE, b.length)), rng.bytes(n)), `garbage: header + ${n} random bytes`]
  }
  const n = rng.range(1, 3000)
  return [cat(b, rng.bytes(n)), `garbage: ${n} random bytes appended`]
}

const COMMIT_FRAMING = Uint8Array.of(0x50, 0, 0, 0, KIND_COMMIT, 0)

const commit: Mutator = (b, rng) => {
  const commits = records(b).filter((r) => r.kind === KIND_COMMIT && r.len === COMMIT_RECORD_SIZE)
  const mode = commits.length === 0 ? 0 : rng.int(3)
  if (mode === 0) {
    const fake = cat(COMMIT_FRAMING, rng.bytes(COMMIT_RECORD_SIZE - COMMIT_FRAMING.length))
    const at = rng.bool(0.3) ? b.length : randOff(rng, b)
    const out = new Uint8Array(Math.max(b.length, at + fake.length))
    out.set(b)
    out.set(fake, at)
    return [out, `commit: framing + random body @${at}`]
  }
  if (mode === 1) {
    const c = rng.pick(commits)
    const rec = b.slice(c.off, c.off + c.len)
    const where = rng.int(3)
    if (where === 0) return [cat(b, rec), `commit: copy of the commit @${c.off} appended`]
    const at = randOff(rng, b)
    if (where === 1) return [cat(b.subarray(0, at), rec, b.subarray(at)), `commit: copy of the commit @${c.off} inserted @${at}`]
    const out = new Uint8Array(b)
    out.set(rec.subarray(0, out.length - at), at)
    return [out, `commit: copy of the commit @${c.off} over @${at}`]
  }
  // Forge a newest commit: the last one with fields changed, salted CRC recomputed, appended.
  const last = commits[commits.length - 1]!
  const rec = b.slice(last.off, last.off + last.len)
  const body = RECORD_HEADER_SIZE
  const recs = records(b)
  const somewhere = (): number => (recs.length > 0 ? rng.pick(recs).off : rng.int(b.length + 1))
  const changes: string[] = []
  const fields: Array<[string, () => void]> = [
    ['version+1', () => writeU64(rec, body, u64At(rec, body) + 1)],
    ['version=0', () => writeU64(rec, body, 0)],
    ['version random', () => writeU64(rec, body, rng.int(2 ** 31))],
    ['rootOffset', () => writeU64(rec, body + 16, somewhere())],
    ['rootCrc', () => writeU32(rec, body + 24, rng.int(2 ** 32))],
    ['height', () => (rec[body + 28] = rng.int(70))],
    ['flags', () => (rec[body + 30] = rng.int(4))],
    ['count', () => writeU64(rec, body + 32, rng.int(2 ** 20))],
    ['treeBytes', () => writeU64(rec, body + 40, rng.int(2 ** 24))],
    ['prevOffset', () => writeU64(rec, body + 48, rng.bool() ? last.off : somewhere())],
    ['skipOffset', () => writeU64(rec, body + 56, somewhere())],
    ['syncedUpTo', () => writeU64(rec, body + 64, rng.bool() ? b.length : somewhere())],
    ['sourceVersion', () => writeU64(rec, body + 72, rng.int(200))],
  ]
  for (let i = rng.range(1, 3); i > 0; i--) {
    const [name, fn] = rng.pick(fields)
    fn()
    changes.push(name)
  }
  // A commit appended at the end sits at b.length: it may name its own offset as syncedUpTo.
  if (!changes.includes('syncedUpTo') && rng.bool()) writeU64(rec, body + 64, b.length)
  if (!changes.includes('prevOffset')) writeU64(rec, body + 48, last.off)
  const out = cat(b, rec)
  fixRecordCrc(out, { off: b.length, len: rec.length, kind: KIND_COMMIT })
  return [out, `commit: forged newest commit (${changes.join(', ')}) appended`]
}

const deep: Mutator = (b, rng) => {
  const out = new Uint8Array(b)
  const recs = records(out)
  const targets = recs.filter((r) => r.kind === KIND_LEAF || r.kind === KIND_BRANCH || r.kind === KIND_VALUE)
  if (targets.length === 0) return flip(b, rng, [])
  // Mostly the newest records: those the latest versions reach.
  const r = rng.bool(0.6) ? targets[targets.length - 1 - rng.int(Math.min(6, targets.length))]! : rng.pick(targets)
  const bodyLen = r.len - RECORD_OVERHEAD
  if (bodyLen === 0) return flip(b, rng, [])
  const k = rng.range(1, 3)
  const what: string[] = []
  for (let i = 0; i < k; i++) {
    const o = r.off + RECORD_HEADER_SIZE + (rng.bool(0.5) ? rng.int(Math.min(8, bodyLen)) : rng.int(bodyLen))
    const style = rng.int(4)
    if (style === 0) out[o]! ^= 1 << rng.int(8)
    else if (style === 1) out[o] = rng.int(256)
    else if (style === 2) out[o] = out[o]! + (rng.bool() ? 1 : -1)
    else out[o] = rng.pick([0, 1, 0x7f, 0x80, 0xff])
    what.push(`${o - r.off - RECORD_HEADER_SIZE}`)
  }
  const [o, n] = fixRecordCrc(out, r)
  const parents = propagate(out, recs, r.off, o, n)
  const kind = { [KIND_LEAF]: 'leaf', [KIND_BRANCH]: 'branch', [KIND_VALUE]: 'value' }[r.kind]
  return [out, `deep: ${kind} @${r.off} body bytes ${what.join(',')} changed, CRCs fixed (${parents} records up the tree)`]
}

const header: Mutator = (b, rng) => {
  if (b.length < HEADER_SIZE) return flip(b, rng, [])
  const out = new Uint8Array(b)
  const fields: Array<[string, () => void]> = [
    ['readVersion', () => (out[8] = rng.pick([0, 2, 255]))],
    ['writeVersion', () => (out[10] = rng.pick([0, 2, 255]))],
    ['flags', () => (out[12 + rng.int(4)] = 1 << rng.int(8))],
    ['salt', () => (out[HEADER_SALT_OFFSET + rng.int(HEADER_SALT_SIZE)]! ^= 1 << rng.int(8))],
    ['baseSize', () => writeU64(out, 40, rng.bool() ? rng.int(b.length * 2 + 1) : rng.int(2 ** 31))],
    ['reserved', () => (out[48 + rng.int(12)] = rng.range(1, 255))],
    ['createdAt', () => writeU64(out, 32, rng.int(2 ** 31))],
  ]
  const [name, fn] = rng.pick(fields)
  fn()
  fixHeaderCrc(out)
  return [out, `header: ${name} changed, header CRC fixed`]
}

const MUTATORS: Array<[Mutator, number]> = [
  [flip, 14],
  [run, 8],
  [truncate, 8],
  [splice, 6],
  [dup, 6],
  [garbage, 4],
  [commit, 14],
  [deep, 32],
  [header, 8],
]
const TOTAL_WEIGHT = MUTATORS.reduce((a, [, w]) => a + w, 0)

function pickMutator(rng: Rng): Mutator {
  let x = rng.int(TOTAL_WEIGHT)
  for (const [m, w] of MUTATORS) {
    if (x < w) return m
    x -= w
  }
  return flip
}

/** Input `index` of the run with seed `runSeed`: deterministic given both (and the corpus). */
export function makeInput(seeds: Seed[], runSeed: number, index: number): FuzzInput {
  const rng = new Rng((Math.imul(runSeed, 0x9e3779b1) + index * 0x85ebca6b) | 0)
  const seed = rng.pick(seeds)
  let bytes = seed.bytes
  const mutations: string[] = []
  // 1 in 40 inputs is the unmodified seed (a control: it must open cleanly).
  const n = rng.int(40) === 0 ? 0 : rng.pick([1, 1, 1, 2, 2, 3, 4])
  for (let i = 0; i < n; i++) {
    const [out, what] = pickMutator(rng)(bytes, rng, seeds)
    bytes = out
    mutations.push(what)
  }
  return { bytes, seed: seed.name, mutations }
}
