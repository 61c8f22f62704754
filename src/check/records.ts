/**
 * The record walk: records must tile [HEADER_SIZE, end) exactly (FORMAT.md §9, invariant 2),
 * each with a known kind, flags 0 and a verifying CRC (salted for commits). This finds damage
 * in records no checked version reaches (older versions' nodes, dead values). Where a length
 * field is damaged the walk cannot know where the next record starts: it resumes at the next
 * record start known from the tree and chain walks, and reports the bytes it had to skip.
 */
import { readU32 } from '../format/bytes.js'
import { crc32 } from '../format/checksum.js'
import { decodeCommit, type CommitRecord } from '../format/commit-record.js'
import { KIND_BRANCH, KIND_COMMIT, KIND_LEAF, KIND_VALUE, RECORD_HEADER_SIZE, RECORD_OVERHEAD } from '../format/constants.js'
import { CRC_CHUNK, kindName, type FileReader } from './reader.js'
import { describeError, hex32, type Reporter } from './report.js'

export interface RecordWalk {
  /** records walked */
  records: number
  /** commit records met (valid ones), by offset */
  commits: Map<number, CommitRecord>
  /** ranges the walk had to skip: record starts inside them are unknown */
  skipped: [number, number][]
  /** the requested offsets found to be record starts */
  boundaries: Set<number>
}

const WINDOW = 1 << 20
const KNOWN_KINDS = new Set([KIND_LEAF, KIND_BRANCH, KIND_VALUE, KIND_COMMIT])

export function walkRecords(
  reader: FileReader,
  from: number,
  to: number,
  seed: number,
  rep: Reporter,
  /** record starts known from elsewhere, to resume at after a damaged length */
  known: number[],
  /** offsets whose being a record start is to be confirmed (commits' syncedUpTo) */
  wantBoundaries: Set<number>,
  reachable: (offset: number) => boolean,
): RecordWalk {
  const resume = [...new Set(known)].filter((o) => o > from && o < to).sort((a, b) => a - b)
  const out: RecordWalk = { records: 0, commits: new Map(), skipped: [], boundaries: new Set() }
  let win: Uint8Array = new Uint8Array(0)
  let winStart = 0
  const view = (at: number, len: number): Uint8Array => {
    if (at < winStart || at + len > winStart + win.length) {
      win = reader.read(at, Math.max(len, Math.min(WINDOW, to - at)))
      winStart = at
    }
    return win.subarray(at - winStart, at - winStart + len)
  }
  const report = (at: number, message: string): void => {
    if (rep.hasErrorAt(at)) return
    const tag = reachable(at) ? '' : ' (not reached from the versions checked)'
    rep.error('record', message + tag, at)
  }
  /** After damage at `at`: the next known record start, or the end. */
  const resync = (at: number, why: string): number => {
    let lo = 0
    let hi = resume.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (resume[mid]! <= at) lo = mid + 1
      else hi = mid
    }
    const next = lo < resume.length ? resume[lo]! : to
    report(at, `${why}; the record walk skips to ${next === to ? 'the end of the data' : `the next known record at ${next}`} (${next - at} bytes unchecked by it)`)
    out.skipped.push([at, next])
    return next
  }

  let pos = from
  while (pos < to) {
    if (wantBoundaries.has(pos)) out.boundaries.add(pos)
    try {
      if (pos + RECORD_OVERHEAD > to) {
        pos = resync(pos, `${to - pos} bytes at the end of the data are too few for a record`)
        continue
      }
      const head = view(pos, RECORD_HEADER_SIZE)
      if (head.length < RECORD_HEADER_SIZE) {
        pos = resync(pos, 'the file ends inside a record')
        continue
      }
      const len = readU32(head, 0)
      const kind = head[4]!
      const flags = head[5]!
      const size = len + RECORD_OVERHEAD
      if (!KNOWN_KINDS.has(kind)) {
        pos = resync(pos, `record of unknown kind ${kind} (damaged framing)`)
        continue
      }
      if (pos + size > to) {
        pos = resync(pos, `${kindName(kind)} of ${size} bytes runs past the end of the data (${to}) (damaged length?)`)
        continue
      }
      out.records++
      const seedFor = kind === KIND_COMMIT ? seed : 0
      let crc: number | undefined
      let stored: number
      let bytes: Uint8Array | undefined
      if (size <= WINDOW) {
        bytes = view(pos, size)
        if (bytes.length < size) {
          pos = resync(pos, 'the file ends inside a record')
          continue
        }
        crc = crc32(bytes.subarray(0, RECORD_HEADER_SIZE + len), seedFor)
        stored = readU32(bytes, RECORD_HEADER_SIZE + len)
      } else {
        crc = reader.crcRange(pos, RECORD_HEADER_SIZE + len, seedFor)
        const t = reader.read(pos + RECORD_HEADER_SIZE + len, 4)
        stored = t.length === 4 ? readU32(t, 0) : -1
        if (size > CRC_CHUNK) win = new Uint8Array(0)
      }
      if (flags !== 0) report(pos, `${kindName(kind)} has record flags ${flags} (version 1 allows 0)`)
      else if (crc === undefined || stored === -1) report(pos, `${kindName(kind)} cut short by the end of the file`)
      else if (crc !== stored) report(pos, `${kindName(kind)} of ${size} bytes fails its checksum (stored ${hex32(stored)}, computed ${hex32(crc)})`)
      else if (kind === KIND_COMMIT && bytes !== undefined) {
        const c = decodeCommit(bytes, 0, seed, pos)
        if (c === undefined) report(pos, 'commit record passes its checksum but breaks the field rules')
        else out.commits.set(pos, c)
      }
      pos += size
    } catch (e) {
      pos = resync(pos, `read failed: ${describeError(e)}`)
    }
  }
  return out
}
