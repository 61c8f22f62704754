/** Iteration over commit records (db.history()). */
import { COMMIT_FLAG_ROLLBACK, COMMIT_RECORD_SIZE, HEADER_SIZE } from '../format/constants.js'
import type { Head } from '../txn/commit.js'
import type { CommitLog } from '../txn/commit-log.js'
import { checkLimit, checkOptionKeys, checkReverse } from './range-options.js'

export interface HistoryOptions {
  gt?: number
  gte?: number
  lt?: number
  lte?: number
  /** newest first */
  reverse?: boolean
  limit?: number
}

export interface CommitInfo {
  version: number
  /** when the commit was made (never earlier than the commit before it) */
  time: Date
  /** entries in the database at this version */
  entries: number
  /** bytes this commit appended to the file (its new nodes, values and commit record) */
  bytes: number
  /** bytes of every record reachable from this version's root */
  treeBytes: number
  /** for a rollback commit, the version whose contents it restored */
  rollbackOf: number | undefined
}

const KEYS = new Set(['gt', 'gte', 'lt', 'lte', 'reverse', 'limit'])

function versionBound(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new RangeError(`history option '${name}' must be an integer version, got ${String(v)}`)
  return v
}

function info(h: Head): CommitInfo {
  const c = h.commit
  const start = c.prevOffset === 0 ? HEADER_SIZE : c.prevOffset + COMMIT_RECORD_SIZE
  return {
    version: c.version,
    time: new Date(c.time),
    entries: c.count,
    bytes: h.offset + COMMIT_RECORD_SIZE - start,
    treeBytes: c.treeBytes,
    rollbackOf: c.flags & COMMIT_FLAG_ROLLBACK ? c.sourceVersion : undefined,
  }
}

export function historyOf(log: CommitLog, head: Head, opts: HistoryOptions | undefined, assertOpen: () => void): IterableIterator<CommitInfo> {
  const o = opts ?? {}
  if (typeof o !== 'object') throw new TypeError('history(options) takes an object { gte, lte, gt, lt, reverse, limit }')
  checkOptionKeys(o, KEYS, 'history')
  let lo = 0
  let hi = head.commit.version
  const gt = versionBound('gt', o.gt)
  const gte = versionBound('gte', o.gte)
  const lt = versionBound('lt', o.lt)
  const lte = versionBound('lte', o.lte)
  if (gt !== undefined) lo = Math.max(lo, gt + 1)
  if (gte !== undefined) lo = Math.max(lo, gte)
  if (lt !== undefined) hi = Math.min(hi, lt - 1)
  if (lte !== undefined) hi = Math.min(hi, lte)
  const reverse = checkReverse(o.reverse)
  const limit = checkLimit(o.limit)
  return (function* (): Generator<CommitInfo> {
    if (lo > hi || limit === 0) return
    let h = log.atOrBelow(head, hi)
    let n = 0
    if (reverse) {
      for (; h !== undefined && h.commit.version >= lo && n < limit; h = log.prev(h), n++) {
        assertOpen()
        yield info(h)
      }
      return
    }
    // No forward links: collect the wanted span backwards, then yield it oldest first.
    const span: Head[] = []
    for (; h !== undefined && h.commit.version >= lo; h = log.prev(h)) span.push(h)
    for (let i = span.length - 1; i >= 0 && n < limit; i--, n++) {
      assertOpen()
      yield info(span[i]!)
    }
  })()
}
