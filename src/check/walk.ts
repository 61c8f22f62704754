/**
 * The tree walk of `check` and `inspect`: every node reachable from a commit's root, with
 * an explicit stack (no recursion), each node record read once however many versions share
 * it. For each node it checks what FORMAT.md §5 and §9 require:
 *   - the record: framing, kind, flags, CRC, and the CRC its pointer names (Merkle check);
 *   - the body decodes, keys (separators) strictly increase, no trailing bytes;
 *   - heights: a leaf at height 1, each branch one above its children, the root at the
 *     commit's height;
 *   - routing: every key in child i satisfies sep[i-1] <= k < sep[i], inherited down the tree;
 *   - aggregates: each pointer's count and bytes equal the real sums below it, and the
 *     commit's count and treeBytes equal the root's;
 *   - pointers go backwards; out-of-line values verify (kind, CRC, length).
 */
import { compareBytes, DecodeError } from '../format/bytes.js'
import type { CommitRecord } from '../format/commit-record.js'
import { KIND_BRANCH, KIND_LEAF, MAX_TREE_HEIGHT, RECORD_OVERHEAD } from '../format/constants.js'
import { decodeBranch, decodeLeaf, isValueRef, NodeRuleError } from '../format/node-codec.js'
import { decodeBranchLenient, decodeLeafLenient, showKey, type RawBranch, type RawLeaf } from './decode.js'
import type { FileReader } from './reader.js'
import { describeError, hex32, type Reporter } from './report.js'

export interface WalkHooks {
  /** each distinct leaf, once */
  leaf?(offset: number, leaf: RawLeaf, recordSize: number): void
  /** each distinct branch, once */
  branch?(offset: number, branch: RawBranch, recordSize: number): void
}

export interface WalkOptions {
  /** read and verify out-of-line value records (check: yes; inspect: no, sizes suffice) */
  verifyValues: boolean
  /** keep each node's key range, to check it again when another version reaches it */
  keepKeyRanges: boolean
  hooks?: WalkHooks
}

/** What is known about a node record once its subtree is walked. */
interface Summary {
  crc: number
  height: number
  count: number
  bytes: number
  min?: Uint8Array
  max?: Uint8Array
  /** the walk (one per version) that first reached it */
  walk: number
}

interface Frame {
  offset: number
  /** the CRC, count and bytes the pointer to this node claims */
  crc: number
  claimCount: number
  claimBytes: number
  /** where the pointer lives (a branch or the commit record), for messages */
  owner: number
  ownerIsCommit: boolean
  index: number
  height: number
  lo: Uint8Array | undefined
  hi: Uint8Array | undefined
  parent: Frame | undefined
  depth: number
  // set while descending a branch
  branch?: RawBranch
  size: number
  next: number
  count: number
  bytes: number
  unknown: boolean
  min?: Uint8Array
  max?: Uint8Array
}

const NODE_KINDS = [KIND_LEAF, KIND_BRANCH] as const

export class TreeWalker {
  /** distinct node records read */
  nodes = 0
  /** distinct value records verified */
  values = 0
  /** node offset -> summary, or null for a node that failed its checks */
  private readonly memo = new Map<number, Summary | null>()
  private readonly valueMemo = new Map<number, { crc: number; length: number }>()
  private walkId = 0
  private version = 0

  constructor(
    private readonly reader: FileReader,
    private readonly end: number,
    private readonly rep: Reporter,
    private readonly opts: WalkOptions,
  ) {}

  /** Whether a node record at this offset was reached by a walk. */
  reached(offset: number): boolean {
    return this.memo.has(offset) || this.valueMemo.has(offset)
  }

  /** Offsets of every record reached (nodes and values), for resynchronising the record walk. */
  reachedOffsets(): number[] {
    return [...this.memo.keys(), ...this.valueMemo.keys()]
  }

  /** Walks the tree of one commit. */
  walkCommit(c: CommitRecord, commitOffset: number): void {
    this.walkId++
    this.version = c.version
    if (c.rootOffset === 0) {
      if (c.count !== 0 || c.treeBytes !== 0) {
        this.err(commitOffset, `commit of version ${c.version} has no root but says ${c.count} entries and ${c.treeBytes} tree bytes`, 'commit')
      }
      return
    }
    if (c.height < 1 || c.height > MAX_TREE_HEIGHT) {
      this.err(commitOffset, `commit of version ${c.version} has tree height ${c.height} (1 to ${MAX_TREE_HEIGHT})`, 'commit')
      return
    }
    const stack: Frame[] = [
      frame(c.rootOffset, c.rootCrc, c.count, c.treeBytes, commitOffset, true, -1, c.height, undefined, undefined, undefined),
    ]
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!
      if (f.branch === undefined) {
        const s = this.visit(f)
        if (s === 'branch') continue
        stack.pop()
        this.finish(f, s)
        continue
      }
      const b = f.branch
      if (f.next < b.children.length) {
        const i = f.next++
        if (b.badChildren.has(i)) {
          f.unknown = true
          continue
        }
        if (f.depth >= MAX_TREE_HEIGHT) {
          this.err(f.offset, `tree deeper than ${MAX_TREE_HEIGHT} levels below version ${c.version}'s root`)
          f.unknown = true
          continue
        }
        const p = b.children[i]!
        const lo = i === 0 ? f.lo : b.keys[i - 1]
        const hi = i === b.children.length - 1 ? f.hi : b.keys[i]
        const child = frame(p.offset, p.crc, p.count, p.bytes, f.offset, false, i, f.height - 1, lo, hi, f)
        child.depth = f.depth + 1
        stack.push(child)
        continue
      }
      stack.pop()
      let s: Summary | null = null
      if (!f.unknown) {
        s = { crc: f.crc, height: f.height, count: f.count, bytes: f.bytes + f.size, walk: this.walkId }
        if (this.opts.keepKeyRanges) {
          if (f.min !== undefined) s.min = f.min
          if (f.max !== undefined) s.max = f.max
        }
      }
      this.memo.set(f.offset, s)
      this.finish(f, s)
    }
  }

  private err(offset: number, message: string, kind: 'node' | 'commit' | 'value' = 'node'): void {
    this.rep.error(kind, message, offset, this.version)
  }

  /** Compares a finished subtree with the pointer to it and folds it into the parent. */
  private finish(f: Frame, s: Summary | null): void {
    const p = f.parent
    if (s === null) {
      if (p !== undefined) p.unknown = true
      return
    }
    const where = f.ownerIsCommit
      ? `commit of version ${this.version}`
      : `child #${f.index} pointer (to ${f.offset})`
    if (s.count !== f.claimCount) {
      this.err(f.owner, `${where} says ${f.claimCount} entries, the subtree at ${f.offset} holds ${s.count}`, f.ownerIsCommit ? 'commit' : 'node')
    }
    if (s.bytes !== f.claimBytes) {
      this.err(f.owner, `${where} says ${f.claimBytes} bytes, the subtree at ${f.offset} holds ${s.bytes}`, f.ownerIsCommit ? 'commit' : 'node')
    }
    if (p === undefined) return
    p.count += s.count
    p.bytes += s.bytes
    if (s.min !== undefined && (p.min === undefined || compareBytes(s.min, p.min) < 0)) p.min = s.min
    if (s.max !== undefined && (p.max === undefined || compareBytes(s.max, p.max) > 0)) p.max = s.max
  }

  /** First look at a node: a finished summary (leaf, or a node already walked), null if unusable, or 'branch'. */
  private visit(f: Frame): Summary | null | 'branch' {
    const known = this.memo.get(f.offset)
    if (known === null) return null
    if (known !== undefined) return this.revisit(f, known)

    const rec = this.reader.record(f.offset, this.end, NODE_KINDS)
    if (!rec.ok) {
      this.err(f.offset, `${rec.message} (${this.pointedFrom(f)})`)
      this.memo.set(f.offset, null)
      return null
    }
    this.nodes++
    if (rec.crc !== f.crc) {
      this.err(f.offset, `record is not the one its pointer names: ${this.pointedFrom(f)} expects crc ${hex32(f.crc)}, the record's is ${hex32(rec.crc)}`)
      this.memo.set(f.offset, null)
      return null
    }
    const isLeafRecord = rec.kind === KIND_LEAF
    let raw: RawLeaf | RawBranch
    try {
      raw = isLeafRecord ? decodeLeafLenient(rec.body, f.offset) : decodeBranchLenient(rec.body, f.offset)
    } catch (e) {
      this.err(f.offset, `${isLeafRecord ? 'leaf' : 'branch'} does not decode: ${describeError(e)}`)
      this.memo.set(f.offset, null)
      return null
    }
    for (const p of raw.problems) this.err(f.offset, `${isLeafRecord ? 'leaf' : 'branch'}: ${p}`)
    if (raw.problems.length === 0) {
      // The engine's own decoder must agree: anything it rejects, readers will fail on.
      try {
        if (isLeafRecord) decodeLeaf(rec.body, f.offset)
        else decodeBranch(rec.body, f.offset)
      } catch (e) {
        if (!(e instanceof DecodeError || e instanceof NodeRuleError)) throw e
        this.err(f.offset, `${isLeafRecord ? 'leaf' : 'branch'} rejected by the engine's decoder: ${e.message}`)
      }
    }

    if (isLeafRecord) {
      if (f.height !== 1) this.err(f.offset, `leaf where a node of height ${f.height} was expected (${this.pointedFrom(f)})`)
      return this.leaf(f, raw as RawLeaf, rec.size)
    }
    const b = raw as RawBranch
    if (f.height === 1) {
      this.err(f.offset, `branch of height ${b.height} where a leaf was expected (${this.pointedFrom(f)})`)
    } else if (b.height !== f.height) {
      this.err(f.offset, `branch of height ${b.height} where height ${f.height} was expected (${this.pointedFrom(f)})`)
    }
    // Go on below with the height the record states, if it is a possible one.
    if (b.height >= 2 && b.height <= MAX_TREE_HEIGHT) f.height = b.height
    else if (f.height < 2) {
      this.memo.set(f.offset, null)
      return null
    }
    this.opts.hooks?.branch?.(f.offset, b, rec.size)
    this.checkBounds(f, b.keys, 'separator', true)
    if (b.keys.length + 1 !== b.children.length) {
      // Cannot happen with the layout (n children, n-1 separators), but stay safe.
      this.memo.set(f.offset, null)
      return null
    }
    f.branch = b
    f.size = rec.size
    return 'branch'
  }

  private leaf(f: Frame, leaf: RawLeaf, size: number): Summary {
    this.opts.hooks?.leaf?.(f.offset, leaf, size)
    this.checkBounds(f, leaf.keys, 'key', false)
    let bytes = size
    for (let i = 0; i < leaf.values.length; i++) {
      const v = leaf.values[i]!
      if (!isValueRef(v)) continue
      bytes += RECORD_OVERHEAD + v.length
      if (!this.opts.verifyValues || leaf.badValues.has(i)) continue
      const seen = this.valueMemo.get(v.offset)
      if (seen !== undefined) {
        if (seen.crc !== v.crc || seen.length !== v.length) {
          this.err(f.offset, `entry #${i} names the value record at ${v.offset} with crc ${hex32(v.crc)} and length ${v.length}, another entry named it with crc ${hex32(seen.crc)} and length ${seen.length}`)
        }
        continue
      }
      this.valueMemo.set(v.offset, { crc: v.crc, length: v.length })
      this.values++
      const problem = this.reader.verifyValue(v, f.offset, this.end)
      if (problem !== undefined) this.rep.error('value', `${problem} (entry #${i} ${showKey(leaf.keys[i]!)} of the leaf at ${f.offset})`, v.offset, this.version)
    }
    const s: Summary = { crc: f.crc, height: 1, count: leaf.keys.length, bytes, walk: this.walkId }
    if (this.opts.keepKeyRanges && leaf.keys.length > 0) {
      s.min = leaf.keys[0]!
      s.max = leaf.keys[leaf.keys.length - 1]!
    }
    this.memo.set(f.offset, s)
    return s
  }

  /** A node already walked (shared by another version): check it fits where this pointer puts it. */
  private revisit(f: Frame, s: Summary): Summary | null {
    if (s.walk === this.walkId) {
      this.err(f.offset, `node reached twice in the tree of version ${this.version} (${this.pointedFrom(f)})`)
    }
    if (s.crc !== f.crc) {
      this.err(f.offset, `record is not the one its pointer names: ${this.pointedFrom(f)} expects crc ${hex32(f.crc)}, the record's is ${hex32(s.crc)}`)
      return null
    }
    if (s.height !== f.height) {
      this.err(f.offset, `node of height ${s.height} where height ${f.height} was expected (${this.pointedFrom(f)})`)
    }
    if (s.min !== undefined && s.max !== undefined) {
      if ((f.lo !== undefined && compareBytes(s.min, f.lo) < 0) || (f.hi !== undefined && compareBytes(s.max, f.hi) >= 0)) {
        this.err(f.offset, `keys ${showKey(s.min)} to ${showKey(s.max)} lie outside the range ${range(f.lo, f.hi)} that ${this.pointedFrom(f)} routes to it`)
      }
    }
    return s
  }

  /** Routing rule: every key (separator) of the node lies in [lo, hi) inherited from above. */
  private checkBounds(f: Frame, keys: Uint8Array[], what: string, strictLow: boolean): void {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      const c = f.lo === undefined ? 1 : compareBytes(k, f.lo)
      const below = strictLow ? c <= 0 : c < 0
      const above = f.hi !== undefined && compareBytes(k, f.hi) >= 0
      if (below || above) {
        this.err(f.offset, `${what} #${i} ${showKey(k)} lies outside the range ${range(f.lo, f.hi)} that ${this.pointedFrom(f)} routes to this node`)
        return
      }
    }
  }

  private pointedFrom(f: Frame): string {
    return f.ownerIsCommit ? `root of version ${this.version}, commit at ${f.owner}` : `child #${f.index} of the branch at ${f.owner}`
  }
}

function frame(
  offset: number,
  crc: number,
  claimCount: number,
  claimBytes: number,
  owner: number,
  ownerIsCommit: boolean,
  index: number,
  height: number,
  lo: Uint8Array | undefined,
  hi: Uint8Array | undefined,
  parent: Frame | undefined,
): Frame {
  return { offset, crc, claimCount, claimBytes, owner, ownerIsCommit, index, height, lo, hi, parent, depth: 1, size: 0, next: 0, count: 0, bytes: 0, unknown: false }
}

function range(lo: Uint8Array | undefined, hi: Uint8Array | undefined): string {
  return `[${lo === undefined ? '-inf' : showKey(lo)}, ${hi === undefined ? '+inf' : showKey(hi)})`
}
