/**
 * checkDatabase: a full consistency check of a cambium file that works on damaged files.
 * It never throws for damage (only for a missing or unopenable file), never loops (every
 * pointer it follows must point backwards, and each record is read once), and reports
 * every problem it finds, with offsets:
 *
 *   1. the header (magic, checksum, reserved bytes, versions);
 *   2. the newest valid commit, as recovery finds it (FORMAT.md §7), and the torn tail after it;
 *   3. the commit chain: records, decreasing versions, times, skip pointers, rollbacks;
 *   4. the tree of the newest version (or of every version): see walk.ts;
 *   5. every record of the file: framing, kinds, checksums, tiling (see records.ts), and that
 *      every commit record met is on the chain and every syncedUpTo is a record boundary.
 */
import { COMMIT_RECORD_SIZE, HEADER_SIZE } from '../format/constants.js'
import type { FileIO } from '../io/file-io.js'
import { findLastCommit } from '../store/recover.js'
import { walkChain, type ChainEntry } from './chain.js'
import { newestCommitInTail, openForCheck, readHeader } from './file.js'
import { FileReader } from './reader.js'
import { walkRecords } from './records.js'
import { DEFAULT_MAX_ERRORS, describeError, Reporter, type CheckProblem } from './report.js'
import { TreeWalker } from './walk.js'

export interface CheckOptions {
  /** check the tree of every version on the commit chain, not only the newest (shared nodes are read once) */
  allVersions?: boolean
  /** the file layer (tests inject a simulated one) */
  fileIO?: FileIO
  /** stop recording errors after this many (the rest are counted in errorsOmitted); default 10,000 */
  maxErrors?: number
}

export interface CheckResult {
  path: string
  /** true when no error was found (warnings allowed) */
  ok: boolean
  errors: CheckProblem[]
  /** errors found beyond maxErrors */
  errorsOmitted: number
  /** not damage: a torn tail, a newer write version */
  warnings: CheckProblem[]
  fileSize: number
  /** the newest valid commit's version and offset, if one was found */
  version: number | undefined
  commitOffset: number | undefined
  /** bytes after the newest valid commit */
  tornBytes: number
  /** versions whose trees were walked */
  versionsChecked: number
  /** commit records on the chain */
  commitsChecked: number
  /** distinct node records walked */
  nodesChecked: number
  /** distinct out-of-line value records verified */
  valuesChecked: number
  /** records met by the walk over the whole file */
  recordsChecked: number
}

export function checkDatabase(path: string, opts: CheckOptions = {}): CheckResult {
  const handle = openForCheck(path, opts.fileIO)
  const rep = new Reporter(opts.maxErrors ?? DEFAULT_MAX_ERRORS)
  const result: CheckResult = {
    path,
    ok: false,
    errors: rep.errors,
    errorsOmitted: 0,
    warnings: rep.warnings,
    fileSize: 0,
    version: undefined,
    commitOffset: undefined,
    tornBytes: 0,
    versionsChecked: 0,
    commitsChecked: 0,
    nodesChecked: 0,
    valuesChecked: 0,
    recordsChecked: 0,
  }
  try {
    run(handle, rep, result, opts)
  } catch (e) {
    // A bug or an unreadable file must still give a report, never a crash.
    rep.error('file', `the check stopped early: ${describeError(e)}`)
  } finally {
    try {
      handle.close()
    } catch {
      // nothing to do: the file was only read
    }
  }
  result.errorsOmitted = rep.omitted
  result.ok = rep.errorCount === 0
  return result
}

function run(handle: import('../io/file-io.js').FileHandle, rep: Reporter, result: CheckResult, opts: CheckOptions): void {
  const size = handle.size()
  result.fileSize = size
  const reader = new FileReader(handle, size)

  // 1. Header.
  const h = readHeader(reader.read(0, HEADER_SIZE), size)
  for (const d of h.damage) rep.error('header', d, 0)
  for (const n of h.notes) rep.warning('header', n, 0)
  if (h.fatal !== undefined || h.header === undefined) {
    rep.error('file', h.fatal?.message ?? 'unreadable header')
    return
  }
  const seed = h.header.seed

  // 2. The newest valid commit.
  const found = findLastCommit(handle, seed, size)
  if (found === undefined) {
    rep.error('commit', `no valid commit record in the file's ${size} bytes: no version can be opened`)
    const tail = newestCommitInTail(reader, HEADER_SIZE, size, seed)
    if (tail !== undefined) {
      rep.error('commit', `the newest intact commit record, version ${tail.commit.version}, is not usable: ${tail.reason}`, tail.offset, tail.commit.version)
    }
    const walk = walkRecords(reader, HEADER_SIZE, size, seed, rep, [], new Set(), () => false)
    result.recordsChecked = walk.records
    return
  }
  const end = found.offset + COMMIT_RECORD_SIZE
  result.version = found.commit.version
  result.commitOffset = found.offset
  result.tornBytes = size - end
  if (size > end && reader.allZero(end, size)) {
    rep.warning(
      'tail',
      `${size - end} zero bytes after the newest valid commit (version ${found.commit.version}, ending at ${end}): space a writer reserved (option preallocate) and has not cut yet, because it is still open or stopped without closing; a read-write open cuts them off`,
      end,
    )
  } else if (size > end) {
    rep.warning(
      'tail',
      `${size - end} bytes after the newest valid commit (version ${found.commit.version}, ending at ${end}) are a torn tail: a read-write open cuts them off, a read-only open ignores them`,
      end,
    )
    const lost = newestCommitInTail(reader, end, size, seed)
    if (lost !== undefined) {
      rep.warning(
        'tail',
        `the torn tail holds an intact commit record of version ${lost.commit.version} that recovery cannot use because ${lost.reason}; ` +
          `versions after ${found.commit.version} are lost (a crash during a commit can cause this; so can damage)`,
        lost.offset,
        lost.commit.version,
      )
    }
  }

  // 3. The commit chain.
  const head: ChainEntry = { offset: found.offset, commit: found.commit }
  const chain = walkChain(reader, seed, head, end, rep)
  result.commitsChecked = chain.entries.length

  // 4. Trees.
  const walker = new TreeWalker(reader, end, rep, { verifyValues: true, keepKeyRanges: opts.allVersions === true })
  const versions = opts.allVersions === true ? chain.entries : [head]
  for (const e of versions) {
    walker.walkCommit(e.commit, e.offset)
    result.versionsChecked++
  }
  result.nodesChecked = walker.nodes
  result.valuesChecked = walker.values

  // 5. Every record.
  const syncPoints = new Set<number>()
  for (const e of chain.entries) if (e.commit.syncedUpTo < e.offset) syncPoints.add(e.commit.syncedUpTo)
  const known = [...walker.reachedOffsets(), ...chain.entries.map((e) => e.offset)]
  const walk = walkRecords(reader, HEADER_SIZE, end, seed, rep, known, syncPoints, (o) => walker.reached(o))
  result.recordsChecked = walk.records
  const inSkipped = (o: number): boolean => walk.skipped.some(([a, b]) => o > a && o < b)
  if (chain.complete) {
    const onChain = new Set(chain.entries.map((e) => e.offset))
    for (const [off, c] of walk.commits) {
      if (!onChain.has(off)) rep.error('commit', `commit record of version ${c.version} is not on the chain of prev links from the newest commit`, off, c.version)
    }
  }
  for (const e of chain.entries) {
    const s = e.commit.syncedUpTo
    if (s < e.offset && s >= HEADER_SIZE && !walk.boundaries.has(s) && !inSkipped(s)) {
      rep.error('commit', `syncedUpTo of version ${e.commit.version} (${s}) is not a record boundary`, e.offset, e.commit.version)
    }
  }
}
