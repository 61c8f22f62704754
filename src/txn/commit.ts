/**
 * The commit protocol (FORMAT.md §8). One commit = the new nodes, then a commit record,
 * appended at the end of the file:
 *   - usually in ONE write followed by ONE fdatasync: recovery accepts the commit only if
 *     every record between its `syncedUpTo` and itself verifies, so a crash that lost or
 *     tore any of its nodes (in any order) loses the whole commit and nothing else;
 *   - when the bytes since the last fsync would pass RECOVERY_WINDOW, the nodes are synced
 *     first, then the record is written and synced, so recovery never reads more than that.
 * With durability 'none' the final fdatasync is skipped, and once half the window is unsynced
 * an fdatasync starts on the file layer's helper thread; a later commit claims the point
 * where it began as its syncedUpTo only after it has succeeded (Store.settleSync).
 * With the `preallocate` option, a durable small commit that would grow the file writes that many
 * zeros after itself in the same write (FORMAT.md §8, "Reserve"): the next commits overwrite
 * synced zeros, so their fdatasyncs need not also journal a new file size.
 */
import { ByteWriter } from '../format/bytes.js'
import { encodeCommit, type CommitRecord } from '../format/commit-record.js'
import { COMMIT_RECORD_SIZE, KIND_LEAF, RECORD_KIND_OFFSET, RECOVERY_WINDOW } from '../format/constants.js'
import type { ChildPointer, Ref, TreeNode } from '../format/node-codec.js'
import { Arena, packRecord, unpack, type PackedNode } from '../format/packed-node.js'
import { mergePuts, type MergeContext } from '../btree/merge.js'
import { serializeTree } from '../btree/serialize.js'
import type { Store } from '../store/store.js'

export interface Head {
  commit: CommitRecord
  offset: number
}

export interface CommitRequest {
  root: Ref | null
  height: number
  flags: number
  sourceVersion: number
  /** puts (keys strictly increasing) to merge into `root`, which is then a committed tree
   *  (a pointer or null), and the node size to split by */
  puts?: { keys: Uint8Array[]; values: Uint8Array[]; nodeSize: number }
}

export interface CommitSettings {
  /** scratch buffer, reused across commits */
  buffer: ByteWriter
  durable: boolean
  /** zeros to keep past the last commit (the `preallocate` option; 0: none) */
  reserve: number
  /** whether the file system has room for `bytes` more zeros (asked only when a reserve is taken) */
  roomFor: (bytes: number) => boolean
  inlineMax: number
  seed: number
}

export function headRoot(c: CommitRecord): ChildPointer | null {
  return c.rootOffset === 0 ? null : { offset: c.rootOffset, crc: c.rootCrc, count: c.count, bytes: c.treeBytes }
}

/** A commit's bytes are built in one reusable buffer, dropped when a big commit grew it
 *  past this, so one large value does not pin its size in memory. */
const KEEP_BUFFER_MAX = 8 << 20

/** Slabs of the arena a merge packs the nodes it replaces into: a single put reads ~1 KiB
 *  or none (the path is usually cached), a 1,000-put commit ~1 MiB. */
const SCRATCH_SLAB = 16 << 10

/** Commits that write at most this many nodes (a few puts) keep them in array form for the
 *  next transaction (Store.recent); bigger ones would hold too much. */
const RECENT_MAX = 32

/** Appends a commit that follows `head`, with the skip pointer `skipOffset` (CommitLog.skipFor). */
export function writeCommit(store: Store, head: Head, skipOffset: number, req: CommitRequest, s: CommitSettings): Head {
  store.checkWritable()
  const base = store.end
  const w = s.buffer
  w.pos = 0
  // Packed copies of the new nodes, made now (w.buf is reused before the commit ends when
  // the nodes are synced ahead of the commit record) and cached once the commit is written.
  const written: [number, PackedNode][] = []
  const recent = new Map<number, () => TreeNode>()
  let nodes = 0
  const ctx: MergeContext = {
    w,
    base,
    inlineMax: s.inlineMax,
    store,
    nodeSize: req.puts?.nodeSize ?? 0,
    scratch: new Arena(SCRATCH_SLAB),
    height: req.height,
    coldLeaf: false,
    appendedPiece: false,
    written: (o: number, start: number, end: number, node?: () => TreeNode, pack?: (arena: Arena) => PackedNode) => {
      // A big commit's leaf whose old version had to be read from the file is not cached
      // either, once the cache is full: a random load rewrites leaves the cache has long
      // dropped, and caching each new version would only push out branches (and leave the
      // garbage collector promoted nodes to trace). A leaf rewritten while hot stays cached.
      // Nor is a full leaf of keys appended past an old leaf's end (a sorted load writes ~125
      // a commit): only the run's last leaf is written again, the others only pin memory.
      if (nodes >= RECENT_MAX && (ctx.appendedPiece || (ctx.coldLeaf && w.buf[start + RECORD_KIND_OFFSET] === KIND_LEAF && store.cache.isFull))) {
        nodes++
        return
      }
      const packed = pack !== undefined ? pack(store.arena) : packRecord(w.buf.subarray(start, end), o, store.arena)
      // A put-only commit's array-form nodes hold the caller's own key and value buffers,
      // which it does not copy (Database.put/batch): only the packed copy may outlive it.
      if (++nodes <= RECENT_MAX) recent.set(o, req.puts === undefined && node !== undefined ? node : () => unpack(packed, 0))
      written.push([o, packed])
    },
  }
  let ptr: ChildPointer | null
  let height = req.height
  if (req.puts !== undefined && req.puts.keys.length > 0) {
    ptr = mergePuts(ctx, req.root as ChildPointer | null, req.height, req.puts.keys, req.puts.values)
    height = ctx.height
  } else {
    ptr = req.root === null ? null : serializeTree(ctx, req.root)
  }
  try {
    store.settleSync(false)
    if (base + w.pos + COMMIT_RECORD_SIZE - store.syncedUpTo > RECOVERY_WINDOW) {
      // A background fdatasync that began late enough is waited for instead of a new one.
      store.settleSync(true)
      if (base + w.pos + COMMIT_RECORD_SIZE - store.syncedUpTo > RECOVERY_WINDOW) {
        if (w.pos > 0) store.append(w.result())
        store.sync()
        w.pos = 0
      }
    }
    const commit: CommitRecord = {
      version: head.commit.version + 1,
      time: Math.max(Date.now(), head.commit.time),
      rootOffset: ptr?.offset ?? 0,
      rootCrc: ptr?.crc ?? 0,
      height: ptr === null ? 0 : height,
      flags: req.flags,
      count: ptr?.count ?? 0,
      treeBytes: ptr?.bytes ?? 0,
      prevOffset: head.offset,
      skipOffset,
      syncedUpTo: store.syncedUpTo,
      sourceVersion: req.sourceVersion,
    }
    const offset = store.end + w.pos
    encodeCommit(w, commit, s.seed)
    let zeros = 0
    // Only small commits extend the reserve: a big one is mostly data, and zeros after it
    // would add up to 16x its size to the bytes written.
    if (s.durable && s.reserve > 0 && w.pos <= s.reserve >>> 4 && store.passesReserve(w.pos) && s.roomFor(s.reserve)) {
      zeros = s.reserve
      w.ensure(zeros)
      w.buf.fill(0, w.pos, w.pos + zeros)
      w.pos += zeros
    }
    store.append(w.result(), zeros)
    if (s.durable) store.sync()
    // Half a window unsynced: the file layer's helper thread (if any) fsyncs it while the
    // next commits are made, so that the window's end usually finds it done.
    else if (store.end - store.syncedUpTo > RECOVERY_WINDOW / 2) store.syncBehind()
    for (const [o, node] of written) store.remember(o, node)
    store.recent = nodes <= RECENT_MAX ? recent : new Map()
    return { commit, offset }
  } catch (e) {
    if (!store.isPoisoned) store.discardFrom(base)
    throw e
  } finally {
    if (w.buf.length > KEEP_BUFFER_MAX) w.buf = new Uint8Array(64 << 10)
  }
}
