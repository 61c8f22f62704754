/**
 * inspectDatabase: facts about a file for people deciding whether to compact it or why it
 * is large: versions, live and dead bytes, tree shape, node fill, the largest keys and values.
 * Read-only (no lock); walks the newest version's tree once, without reading value records.
 * Damage met on the way is listed in `problems` (run checkDatabase for a full check).
 */
import { CambiumError } from '../errors.js'
import { COMMIT_FLAG_ROLLBACK, COMMIT_RECORD_SIZE, DEFAULT_NODE_SIZE, HEADER_SIZE, RECORD_OVERHEAD } from '../format/constants.js'
import { isValueRef } from '../format/node-codec.js'
import type { FileIO } from '../io/file-io.js'
import { findLastCommit } from '../store/recover.js'
import { walkChain } from './chain.js'
import { openForCheck, readHeader } from './file.js'
import { FileReader } from './reader.js'
import { describeError, Reporter, type CheckProblem } from './report.js'
import { TreeWalker } from './walk.js'

export interface InspectOptions {
  fileIO?: FileIO
  /** the node size the fill is measured against (default 1024, the writer's default) */
  nodeSize?: number
  /** how many of the largest keys and values to list (default 5) */
  top?: number
}

export interface SizedKey {
  /** bytes of the key or value */
  size: number
  /** the key (of the value) */
  key: Uint8Array
}

export interface InspectReport {
  path: string
  fileSize: number
  header: { readVersion: number; writeVersion: number; createdAt: Date; baseSize: number }
  /** versions on the commit chain: the oldest, the newest, and how many */
  versions: { first: number; last: number; count: number }
  /** the newest version's commit */
  latest: { version: number; time: Date; offset: number; rollbackOf: number | undefined }
  /** bytes the newest version needs: its tree and its commit record */
  liveBytes: number
  /** every other byte after the header (old versions, torn tail): what a compaction frees */
  deadBytes: number
  /** deadBytes / fileSize */
  deadRatio: number
  treeHeight: number
  nodes: {
    leaves: number
    branches: number
    leafBytes: number
    branchBytes: number
    /** average node record size / nodeSize */
    avgFill: number
    avgLeafEntries: number
    avgBranchChildren: number
    nodeSize: number
  }
  entries: number
  keyBytes: number
  values: { inline: number; outOfLine: number; inlineBytes: number; outOfLineBytes: number }
  largestKeys: SizedKey[]
  largestValues: SizedKey[]
  tornBytes: number
  /** damage met on the way (empty for a healthy file) */
  problems: CheckProblem[]
}

/** Keeps the n largest items seen, largest first. */
class Top {
  readonly items: SizedKey[] = []
  constructor(private readonly n: number) {}
  add(size: number, key: Uint8Array): void {
    if (this.n <= 0) return
    if (this.items.length === this.n && size <= this.items[this.n - 1]!.size) return
    let i = this.items.length
    while (i > 0 && this.items[i - 1]!.size < size) i--
    this.items.splice(i, 0, { size, key: key.slice() })
    if (this.items.length > this.n) this.items.pop()
  }
}

export function inspectDatabase(path: string, opts: InspectOptions = {}): InspectReport {
  const handle = openForCheck(path, opts.fileIO)
  try {
    return inspect(path, handle, opts)
  } catch (e) {
    if (e instanceof CambiumError) throw e
    throw new CambiumError('ERR_IO', `${path}: inspect failed: ${describeError(e)}`, { path, cause: e })
  } finally {
    try {
      handle.close()
    } catch {
      // read only
    }
  }
}

function inspect(path: string, handle: import('../io/file-io.js').FileHandle, opts: InspectOptions): InspectReport {
  const size = handle.size()
  const reader = new FileReader(handle, size)
  const h = readHeader(reader.read(0, HEADER_SIZE), size)
  if (h.fatal !== undefined || h.header === undefined) {
    throw new CambiumError(h.fatal?.code ?? 'ERR_NOT_A_DATABASE', `${path}: ${h.fatal?.message ?? 'unreadable header'}`, { path })
  }
  if (h.damage.length > 0) throw new CambiumError('ERR_CORRUPT', `${path}: ${h.damage[0]}`, { path, offset: 0 })
  const header = h.header
  const found = findLastCommit(handle, header.seed, size)
  if (found === undefined) {
    throw new CambiumError('ERR_CORRUPT', `${path}: no valid commit record in its ${size} bytes; the file is damaged (run cambium check)`, { path })
  }
  const end = found.offset + COMMIT_RECORD_SIZE
  const rep = new Reporter(1000)
  const chain = walkChain(reader, header.seed, { offset: found.offset, commit: found.commit }, end, rep)
  const c = found.commit
  const oldest = chain.entries[chain.entries.length - 1]!

  const nodeSize = opts.nodeSize ?? DEFAULT_NODE_SIZE
  const keysTop = new Top(opts.top ?? 5)
  const valuesTop = new Top(opts.top ?? 5)
  const stats = { leaves: 0, branches: 0, leafBytes: 0, branchBytes: 0, leafEntries: 0, branchChildren: 0, keyBytes: 0 }
  const values = { inline: 0, outOfLine: 0, inlineBytes: 0, outOfLineBytes: 0 }
  const walker = new TreeWalker(reader, end, rep, {
    verifyValues: false,
    keepKeyRanges: false,
    hooks: {
      leaf(_offset, leaf, recordSize) {
        stats.leaves++
        stats.leafBytes += recordSize
        stats.leafEntries += leaf.keys.length
        for (let i = 0; i < leaf.keys.length; i++) {
          const k = leaf.keys[i]!
          const v = leaf.values[i]!
          stats.keyBytes += k.length
          keysTop.add(k.length, k)
          if (isValueRef(v)) {
            values.outOfLine++
            values.outOfLineBytes += v.length + RECORD_OVERHEAD
            valuesTop.add(v.length, k)
          } else {
            values.inline++
            values.inlineBytes += v.length
            valuesTop.add(v.length, k)
          }
        }
      },
      branch(_offset, b, recordSize) {
        stats.branches++
        stats.branchBytes += recordSize
        stats.branchChildren += b.children.length
      },
    },
  })
  walker.walkCommit(c, found.offset)

  const liveBytes = c.treeBytes + COMMIT_RECORD_SIZE
  const deadBytes = Math.max(0, size - HEADER_SIZE - liveBytes)
  const nodes = stats.leaves + stats.branches
  return {
    path,
    fileSize: size,
    header: { readVersion: header.readVersion, writeVersion: header.writeVersion, createdAt: new Date(header.createdAt), baseSize: header.baseSize },
    versions: { first: oldest.commit.version, last: c.version, count: chain.entries.length },
    latest: { version: c.version, time: new Date(c.time), offset: found.offset, rollbackOf: c.flags & COMMIT_FLAG_ROLLBACK ? c.sourceVersion : undefined },
    liveBytes,
    deadBytes,
    deadRatio: size === 0 ? 0 : deadBytes / size,
    treeHeight: c.height,
    nodes: {
      leaves: stats.leaves,
      branches: stats.branches,
      leafBytes: stats.leafBytes,
      branchBytes: stats.branchBytes,
      avgFill: nodes === 0 ? 0 : (stats.leafBytes + stats.branchBytes) / nodes / nodeSize,
      avgLeafEntries: stats.leaves === 0 ? 0 : stats.leafEntries / stats.leaves,
      avgBranchChildren: stats.branches === 0 ? 0 : stats.branchChildren / stats.branches,
      nodeSize,
    },
    entries: c.count,
    keyBytes: stats.keyBytes,
    values,
    largestKeys: keysTop.items,
    largestValues: valuesTop.items,
    tornBytes: size - end,
    problems: [...rep.errors],
  }
}
