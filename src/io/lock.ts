/**
 * Single-writer lock for a database file P, without native addons (Node has no flock): the
 * lock file `P.lock` holds JSON naming its holder. It is created atomically; a lock whose holder
 * died is reclaimed. Layer: io (imports node built-ins and ../errors.js only).
 *
 * Invariants:
 * - The lock file appears with its full content or not at all: it is written to a private
 *   temp file and hard-linked into place (`link` fails with EEXIST if the lock is held). With
 *   `open(..., 'wx')` a contender could read a half-written file and could not tell a dying
 *   writer from a live one. File systems without hard links fall back to 'wx'.
 * - Only two parties ever remove a lock file: its owner (release, after checking its token),
 *   and a reclaimer holding the `P.lock.reclaim` guard (after re-checking, under the guard,
 *   that it is still the same stale file). So two reclaimers racing cannot both win.
 * - The lock is not fsynced: it only matters while its holder lives, and after a power loss
 *   every holder is dead (an empty or missing lock file is handled).
 */

import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { CambiumError } from '../errors.js'
import type { WriterLock } from './file-io.js'

/** Content of a lock file. startTime and bootId are null where /proc is unavailable. */
export interface LockInfo {
  pid: number
  /** /proc/<pid>/stat field 22 (start time in clock ticks since boot): defeats pid reuse. */
  startTime: string | null
  /** /proc/sys/kernel/random/boot_id: a lock from before a reboot is stale. */
  bootId: string | null
  hostname: string
  acquiredAt: string
  /** Random; release() removes the lock file only if it still carries this token. */
  token: string
}

/** A reclaim takes a few syscalls; a guard this old was left by a reclaimer that died. */
const STALE_GUARD_MS = 10_000
/** A lock file that cannot be parsed is being written (fallback path) unless it is this old. */
const UNREADABLE_GRACE_MS = 10_000
/** Bounds the retry loop when lock files keep appearing and vanishing (holders churning). */
const MAX_ATTEMPTS = 100
/** Pause between retries while another process reclaims: enough for its few syscalls. */
const RETRY_SLEEP_MS = 5
/** Lock files hold ~250 bytes of JSON; anything past this is not ours (and reads as unreadable). */
const MAX_LOCK_FILE_BYTES = 4096
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])

interface Registry {
  held: Map<string, HeldLock>
  exitHookInstalled: boolean
}

/** Shared through globalThis so two copies of this module (src and dist) agree on what is held. */
const REGISTRY_KEY = Symbol.for('cambium.io.writerLocks')

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>
  let reg = g[REGISTRY_KEY]
  if (reg === undefined) {
    reg = { held: new Map(), exitHookInstalled: false }
    g[REGISTRY_KEY] = reg
  }
  return reg
}

function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

function readTextOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

/** State (field 3) and start time (field 22) from /proc/<pid>/stat; null off Linux or if gone. */
function procStat(pid: number): { state: string; startTime: string } | null {
  const text = readTextOrNull(`/proc/${pid}/stat`)
  if (text === null) return null
  // Field 2 (comm) is parenthesised and may contain spaces or ')': fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const state = rest[0]
  const startTime = rest[22 - 3]
  return state === undefined || startTime === undefined ? null : { state, startTime }
}

let selfInfo: Omit<LockInfo, 'acquiredAt' | 'token'> | undefined
function self(): Omit<LockInfo, 'acquiredAt' | 'token'> {
  selfInfo ??= {
    pid: process.pid,
    startTime: procStat(process.pid)?.startTime ?? null,
    bootId: readTextOrNull('/proc/sys/kernel/random/boot_id')?.trim() || null,
    hostname: os.hostname(),
  }
  return selfInfo
}

function parseInfo(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>
    // pid must be a positive integer: process.kill(0 or -1, 0) would probe process groups.
    if (!Number.isSafeInteger(v.pid) || (v.pid as number) <= 0 || typeof v.hostname !== 'string') return undefined
    return {
      pid: v.pid as number,
      startTime: typeof v.startTime === 'string' ? v.startTime : null,
      bootId: typeof v.bootId === 'string' ? v.bootId : null,
      hostname: v.hostname,
      acquiredAt: String(v.acquiredAt),
      token: String(v.token),
    }
  } catch {
    return undefined
  }
}

interface Holder {
  info: LockInfo | undefined
  text: string
  ino: bigint
  mtimeMs: number
}

/** Reads the lock file through one descriptor (content and inode agree); undefined if absent. */
function readHolder(file: string): Holder | undefined {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (e) {
    if (errCode(e) === 'ENOENT') return undefined
    throw e
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true })
    const buf = Buffer.alloc(Math.min(Number(st.size), MAX_LOCK_FILE_BYTES))
    const n = fs.readSync(fd, buf, 0, buf.length, 0)
    const text = buf.subarray(0, n).toString('utf8')
    return { info: parseInfo(text), text, ino: st.ino, mtimeMs: Number(st.mtimeMs) }
  } finally {
    fs.closeSync(fd)
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return errCode(e) !== 'ESRCH'
  }
}

/** Whether the holder may still be writing. Errs towards 'alive': a wrong 'stale' means two writers. */
function isStale(h: Holder): boolean {
  const info = h.info
  if (info === undefined) return Date.now() - h.mtimeMs > UNREADABLE_GRACE_MS
  const me = self()
  // A process on another host (network file system) cannot be probed.
  if (info.hostname !== me.hostname) return false
  if (info.bootId !== null && me.bootId !== null && info.bootId !== me.bootId) return true
  if (info.pid === me.pid) {
    // This process (possibly another worker thread), unless an earlier process had our pid.
    return info.startTime !== null && me.startTime !== null && info.startTime !== me.startTime
  }
  if (!processExists(info.pid)) return true
  const stat = procStat(info.pid)
  if (stat === null) return false
  // 'Z': exited, not yet reaped by its parent.
  return stat.state === 'Z' || (info.startTime !== null && stat.startTime !== info.startTime)
}

function describeHolder(h: Holder | undefined): string {
  const info = h?.info
  const me = self()
  if (info === undefined) return 'another process (its lock file is being written or unreadable)'
  if (info.hostname !== me.hostname) return `process ${info.pid} on host ${info.hostname}`
  if (info.pid === me.pid) return `this process (pid ${info.pid})`
  return `process ${info.pid}`
}

function lockedError(dbPath: string, who: string): CambiumError {
  return new CambiumError(
    'ERR_LOCKED',
    `${dbPath} is locked by ${who} (another writer). Open with { readOnly: true } to read, or close the other writer.`,
    { path: dbPath },
  )
}

/** Creates the lock file with `info` atomically; false if it already exists. */
function tryCreate(lockPath: string, info: LockInfo): boolean {
  const text = JSON.stringify(info)
  const tmp = `${lockPath}.${info.pid}.${info.token}.tmp`
  try {
    // Inside the try: a write that fails (ENOSPC, EFBIG) must not leave the temp file.
    fs.writeFileSync(tmp, text, { flag: 'wx' })
    fs.linkSync(tmp, lockPath)
    return true
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false
    if (!LINK_UNSUPPORTED.has(errCode(e) ?? '')) throw e
  } finally {
    fs.rmSync(tmp, { force: true })
  }
  try {
    fs.writeFileSync(lockPath, text, { flag: 'wx' })
    return true
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false
    throw e
  }
}

/** Moves `file` aside and deletes it only if it is still inode `ino`; otherwise puts it back. */
function removeIfSame(file: string, ino: bigint): void {
  const aside = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.stale`
  try {
    fs.renameSync(file, aside)
  } catch (e) {
    if (errCode(e) === 'ENOENT') return
    throw e
  }
  try {
    if (fs.statSync(aside, { bigint: true }).ino !== ino) {
      // A fresh file replaced the stale one after we looked: restore it (EEXIST: already replaced).
      try {
        fs.linkSync(aside, file)
      } catch (e) {
        if (errCode(e) !== 'EEXIST') throw e
      }
    }
  } finally {
    fs.rmSync(aside, { force: true })
  }
}

/** Takes the reclaim guard; false while another live reclaimer holds it. */
function takeGuard(guard: string): boolean {
  for (let i = 0; i < 2; i++) {
    try {
      fs.writeFileSync(guard, String(process.pid), { flag: 'wx' })
      return true
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw e
    }
    let st: fs.BigIntStats
    try {
      st = fs.statSync(guard, { bigint: true })
    } catch (e) {
      if (errCode(e) === 'ENOENT') continue
      throw e
    }
    // A guard is stale when it is old, or when the reclaimer named in it has died.
    const owner = Number(readTextOrNull(guard))
    const ownerDead = Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && !processExists(owner)
    if (!ownerDead && Date.now() - Number(st.mtimeMs) <= STALE_GUARD_MS) return false
    removeIfSame(guard, st.ino)
  }
  return false
}

/** Under the guard: removes the lock file if it is still `stale`, then tries to create ours. */
function reclaim(lockPath: string, stale: Holder, info: LockInfo): boolean {
  const guard = lockPath + '.reclaim'
  if (!takeGuard(guard)) return false
  try {
    const now = readHolder(lockPath)
    if (now !== undefined) {
      if (now.ino !== stale.ino || now.text !== stale.text) return false
      removeIfSame(lockPath, stale.ino)
    }
    return tryCreate(lockPath, info)
  } finally {
    fs.rmSync(guard, { force: true })
  }
}

class HeldLock implements WriterLock {
  readonly lockPath: string
  private readonly token: string
  private released = false

  constructor(lockPath: string, token: string) {
    this.lockPath = lockPath
    this.token = token
  }

  /** Removes the lock file if it is still ours. Idempotent; never throws (a leftover is reclaimed later). */
  release(): void {
    if (this.released) return
    this.released = true
    const reg = registry()
    if (reg.held.get(this.lockPath) === this) reg.held.delete(this.lockPath)
    try {
      const h = readHolder(this.lockPath)
      if (h?.info?.token === this.token) fs.rmSync(this.lockPath, { force: true })
    } catch {
      // Best effort: once this process exits, a lock file left here is stale and reclaimed.
    }
  }
}

function installExitHook(reg: Registry): void {
  if (reg.exitHookInstalled) return
  reg.exitHookInstalled = true
  process.on('exit', () => {
    for (const lock of [...reg.held.values()]) lock.release()
  })
}

/** Path of the lock file guarding database file `dbPath`. */
export function lockPathFor(dbPath: string): string {
  return path.resolve(dbPath) + '.lock'
}

/**
 * Takes the single-writer lock for `dbPath`, reclaiming it from a dead holder, or throws
 * CambiumError ERR_LOCKED naming the holder. The lock is released by `release()` or at exit.
 */
export function acquireWriterLock(dbPath: string): WriterLock {
  const lockPath = lockPathFor(dbPath)
  const reg = registry()
  if (reg.held.has(lockPath)) throw lockedError(dbPath, `this process (pid ${process.pid})`)
  const info: LockInfo = { ...self(), acquiredAt: new Date().toISOString(), token: randomBytes(16).toString('hex') }
  removeDeadTemps(lockPath)
  let last: Holder | undefined
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (tryCreate(lockPath, info)) return register(reg, lockPath, info.token)
    const holder = readHolder(lockPath)
    if (holder === undefined) continue
    last = holder
    if (!isStale(holder)) throw lockedError(dbPath, describeHolder(holder))
    if (reclaim(lockPath, holder, info)) return register(reg, lockPath, info.token)
    sleepSync(RETRY_SLEEP_MS)
  }
  throw lockedError(dbPath, describeHolder(last))
}

/** Removes `<lock>.<pid>.<token>.tmp` files of processes that died between creating and removing them. */
function removeDeadTemps(lockPath: string): void {
  const dir = path.dirname(lockPath)
  const base = path.basename(lockPath) + '.'
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    if (!name.startsWith(base) || !name.endsWith('.tmp')) continue
    const pid = Number(name.slice(base.length).split('.')[0])
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || processExists(pid)) continue
    try {
      fs.rmSync(path.join(dir, name), { force: true })
    } catch {
      // Best effort: the next open tries again.
    }
  }
}

function register(reg: Registry, lockPath: string, token: string): WriterLock {
  const lock = new HeldLock(lockPath, token)
  reg.held.set(lockPath, lock)
  installExitHook(reg)
  return lock
}
