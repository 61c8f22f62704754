/**
 * The disk model under SimFileIO: byte images, pending ops, and what survives a crash
 * (SQLite test6 modes; reliability.md §4). Pure: no state beyond its arguments.
 */

import type { Rng } from './rng.js'

export const CRASH_MODES = ['drop', 'prefix', 'subset', 'torn', 'garbage'] as const
export type CrashMode = (typeof CRASH_MODES)[number]

const ERRNO: Record<string, [number, string]> = {
  ENOSPC: [-28, 'no space left on device'],
  EIO: [-5, 'i/o error'],
  EFBIG: [-27, 'file too large'],
  ENOENT: [-2, 'no such file or directory'],
  EEXIST: [-17, 'file already exists'],
  EBADF: [-9, 'bad file descriptor'],
}

/** A Node-style errno error, shaped like the ones `fs` throws. */
export function errnoError(code: string, syscall: string, path?: string): Error {
  const [errno, text] = ERRNO[code] ?? [-1, 'unknown error']
  const where = path === undefined ? '' : ` '${path}'`
  return Object.assign(new Error(`${code}: ${text}, ${syscall}${where}`), { code, errno, syscall, path })
}

/** A growable byte image. Invariant: buf[len..] is all zero, so extending reads as zeros. */
export class Bytes {
  buf: Uint8Array
  len: number
  constructor(data: Uint8Array = new Uint8Array(0)) {
    // 64: a floor so tiny files do not regrow on every append.
    this.buf = new Uint8Array(Math.max(64, data.length))
    this.buf.set(data)
    this.len = data.length
  }
  private reserve(n: number): void {
    if (n <= this.buf.length) return
    const next = new Uint8Array(Math.max(n, this.buf.length * 2))
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }
  write(pos: number, data: Uint8Array): void {
    this.reserve(pos + data.length)
    this.buf.set(data, pos)
    this.len = Math.max(this.len, pos + data.length)
  }
  truncate(n: number): void {
    if (n < this.len) this.buf.fill(0, n, this.len)
    else this.reserve(n)
    this.len = n
  }
  read(out: Uint8Array, pos: number): number {
    const n = Math.max(0, Math.min(out.length, this.len - pos))
    out.set(this.buf.subarray(pos, pos + n))
    return n
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len)
  }
}

/** A file: reads see `live`; `durable` is what survives a crash with nothing pending applied. */
export class Inode {
  constructor(
    readonly ino: number,
    public live: Bytes,
    public durable: Bytes,
  ) {}
}

export type PendingOp =
  | { kind: 'write'; inode: Inode; pos: number; data: Uint8Array }
  | { kind: 'truncate'; inode: Inode; len: number }
  /** A create, rename or unlink: `changes` apply together (a rename is atomic). */
  | { kind: 'dir'; dirs: string[]; changes: Array<[string, Inode | undefined]> }

export function applyTo(img: Bytes, op: PendingOp): void {
  if (op.kind === 'write') img.write(op.pos, op.data)
  else if (op.kind === 'truncate') img.truncate(op.len)
}

export function applyDir(names: Map<string, Inode>, op: PendingOp & { kind: 'dir' }): void {
  for (const [name, inode] of op.changes) {
    if (inode === undefined) names.delete(name)
    else names.set(name, inode)
  }
}

export interface CrashOptions {
  sectorSize: number
  powersafeOverwrite: boolean
}

/**
 * The files (name -> bytes) left by a crash with `pending` unsynced over `durableNames`:
 * - drop: nothing pending lands; prefix: the first k ops land; subset: each op lands or not;
 * - torn: the ops before some write land, then a prefix of that write (cut at a byte or sector);
 * - garbage: as prefix, then random bytes over the sectors each dropped write covered (only its
 *   own bytes with powersafeOverwrite), extending the file as the write would have.
 * Directory ops land only as a prefix of themselves in every mode (ordered metadata journal).
 */
export function crashImage(
  durableNames: ReadonlyMap<string, Inode>,
  pending: readonly PendingOp[],
  mode: CrashMode,
  rng: Rng,
  { sectorSize: ss, powersafeOverwrite: psow }: CrashOptions,
): Map<string, Uint8Array> {
  const n = pending.length
  const applied = new Array<boolean>(n).fill(false)
  let prefix = 0
  let tornAt = -1
  if (mode === 'prefix' || mode === 'garbage') prefix = rng.int(n + 1)
  else if (mode === 'subset') for (let i = 0; i < n; i++) applied[i] = rng.bool()
  else if (mode === 'torn') {
    const writes = pending.flatMap((op, i) => (op.kind === 'write' && op.data.length > 0 ? [i] : []))
    prefix = writes.length > 0 ? (tornAt = rng.pick(writes)) : rng.int(n + 1)
  }
  applied.fill(true, 0, prefix)
  let dirPrefix = true
  pending.forEach((op, i) => {
    if (op.kind !== 'dir') return
    dirPrefix &&= applied[i] === true
    applied[i] = dirPrefix
  })

  const images = new Map<Inode, Bytes>()
  const img = (inode: Inode): Bytes => {
    let b = images.get(inode)
    if (b === undefined) images.set(inode, (b = new Bytes(inode.durable.bytes())))
    return b
  }
  const names = new Map(durableNames)
  pending.forEach((op, i) => {
    if (op.kind === 'dir') {
      if (applied[i]) applyDir(names, op)
      return
    }
    if (applied[i]) return applyTo(img(op.inode), op)
    if (op.kind !== 'write' || op.data.length === 0) return
    const b = img(op.inode)
    if (i === tornAt) return b.write(op.pos, op.data.subarray(0, tornCut(op.pos, op.data.length, ss, rng)))
    if (mode !== 'garbage') return
    const end = op.pos + op.data.length
    b.truncate(Math.max(b.len, end))
    const start = psow ? op.pos : Math.floor(op.pos / ss) * ss
    const stop = psow ? end : Math.min(Math.ceil(end / ss) * ss, b.len)
    b.write(start, rng.bytes(stop - start))
  })
  return new Map([...names].map(([name, inode]) => [name, img(inode).bytes()]))
}

/** How many bytes of a `len`-byte write at `pos` land before a torn crash: a sector boundary or any byte. */
function tornCut(pos: number, len: number, ss: number, rng: Rng): number {
  const first = Math.floor(pos / ss) * ss + ss
  const boundaries = first < pos + len ? Math.floor((pos + len - 1 - first) / ss) + 1 : 0
  if (boundaries > 0 && rng.bool()) return first + rng.int(boundaries) * ss - pos
  return rng.int(len)
}
