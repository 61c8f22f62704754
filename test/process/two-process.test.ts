/**
 * cambium across real processes: the writer lock, read-only followers (refresh()), and torn
 * commits under a follower. Children (test/process/children/*.mjs) run the built dist/index.js;
 * this process uses src/. Every version's contents are a function of its number
 * (children/common.mjs), so any process can check any version. The large runs are in their own
 * files: kill9.test.ts (T2, 200 kill -9 rounds), race.test.ts (T7, 100 writer races) and
 * follower.test.ts (T8, a follower over 10,000 commits).
 *
 * Nothing waits on a timer except the random kill delays: readiness and progress are lines
 * the children print. Set CAMBIUM_SEED to replay the kill delays of a failed run.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { COMMIT_RECORD_SIZE } from '../../src/format/constants.js'
import { isCambiumError, open } from '../../src/index.js'
import { Rng } from '../helpers/rng.js'
import { spawnChild, killLiveChildren, type Child } from './child.js'
import { checkVersion } from './children/common.mjs'

const repo = path.resolve(import.meta.dirname, '../..')
const seed = Number(process.env['CAMBIUM_SEED'] ?? Math.floor(Math.random() * 2 ** 31))

let dir: string
let dbPath: string
let lockPath: string

const utf8 = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const
const openRW = () => open(dbPath, utf8)
const openRO = () => open(dbPath, { ...utf8, readOnly: true })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (msg: string) => console.log(`[two-process] ${msg}`)

function createEmpty(): void {
  openRW().close()
}

function lockHolderPid(): number {
  return (JSON.parse(fs.readFileSync(lockPath, 'utf8')) as { pid: number }).pid
}

interface ChildError {
  code: string | null
  message: string
}

function parseError(json: string): ChildError {
  return JSON.parse(json) as ChildError
}

/** ACKs of a 'loop' writer: consecutive from start + 1. Returns the last acknowledged version. */
function lastAck(w: Child, start: number): number {
  const acks = w.acks()
  acks.forEach((v, i) => {
    if (v !== start + 1 + i) throw new Error(`ACK #${i} is ${v}, expected ${start + 1 + i}`)
  })
  return acks.length === 0 ? start : acks[acks.length - 1]!
}

beforeAll(() => {
  if (fs.existsSync(path.join(repo, 'dist/index.js'))) return
  const r = spawnSync('npm', ['run', 'build'], { cwd: repo, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`)
}, 120_000)

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-proc-'))
  dbPath = path.join(dir, 'test.cambium')
  lockPath = dbPath + '.lock'
})

afterEach(async () => {
  await killLiveChildren()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('two processes', () => {
  it('a second read-write open gets ERR_LOCKED naming the holder; a read-only open reads', async () => {
    const writer = spawnChild('writer.mjs', 'hold', dbPath)
    const ready = await writer.waitFor(/^READY (\d+) (\d+)$/)
    const pid = Number(ready[1])
    expect(pid).toBe(writer.pid)
    expect(Number(ready[2])).toBe(0)
    expect(lockHolderPid()).toBe(pid)
    writer.send('COMMIT 25')
    await writer.waitFor(/^COMMITTED 25$/)

    // Another process, read-write: refused, and told who holds the lock.
    const second = spawnChild('writer.mjs', 'try', dbPath)
    const err = parseError((await second.waitFor(/^(?:OPENED|ERROR) (.*)$/))[1]!)
    await second.exitsCleanly()
    expect(err.code).toBe('ERR_LOCKED')
    expect(err.message).toMatch(new RegExp(`\\bprocess ${pid}\\b`))
    expect(err.message).toContain('readOnly: true')

    // This process too.
    let caught: unknown
    try {
      openRW().close()
    } catch (e) {
      caught = e
    }
    expect(isCambiumError(caught, 'ERR_LOCKED')).toBe(true)
    expect((caught as Error).message).toMatch(new RegExp(`\\bprocess ${pid}\\b`))

    // A third process, read-only: opens while the writer holds the lock, and reads every version.
    const reader = spawnChild('reader.mjs', 'read', dbPath)
    await reader.waitFor(/^READ 25$/)
    await reader.exitsCleanly()

    // The failed opens did not disturb the holder: it still owns the lock and commits.
    expect(lockHolderPid()).toBe(pid)
    writer.send('COMMIT 5')
    await writer.waitFor(/^COMMITTED 30$/)
    writer.send('CLOSE')
    await writer.waitFor(/^CLOSED$/)
    await writer.exitsCleanly()
    expect(fs.existsSync(lockPath)).toBe(false)

    // Released by close(): the next read-write open succeeds.
    const third = spawnChild('writer.mjs', 'try', dbPath)
    await third.waitFor(/^OPENED 30$/)
    await third.exitsCleanly()

    // A writer that exits without close() releases the lock too (exit hook).
    const quitter = spawnChild('writer.mjs', 'hold', dbPath)
    await quitter.waitFor(/^READY \d+ 30$/)
    quitter.send('COMMIT 1')
    await quitter.waitFor(/^COMMITTED 31$/)
    quitter.send('EXIT')
    await quitter.exitsCleanly()
    expect(fs.existsSync(lockPath)).toBe(false)
    const db = openRW()
    try {
      expect(db.version).toBe(31)
      checkVersion(db, 31, true)
    } finally {
      db.close()
    }
  })

  it.each([
    ['full', 300],
    ['none', 1000],
  ] as const)(
    'a read-only follower sees every commit complete, in order (durability %s, %i commits)',
    async (durability, n) => {
      createEmpty()
      const t0 = Date.now()
      const reader = spawnChild('reader.mjs', 'follow', dbPath)
      await reader.waitFor(/^READY 0$/)
      const writer = spawnChild('writer.mjs', 'hold', dbPath, durability)
      await writer.waitFor(/^READY \d+ 0$/)
      writer.send(`COMMIT ${n}`)
      await writer.waitFor(new RegExp(`^COMMITTED ${n}$`), 60_000)
      expect(writer.acks()).toEqual(Array.from({ length: n }, (_, i) => i + 1))
      writer.send('CLOSE')
      await writer.exitsCleanly()

      reader.send('SYNC')
      await reader.waitFor(new RegExp(`^AT ${n}$`))
      reader.send('STOP')
      const stats = JSON.parse((await reader.waitFor(/^DONE (.*)$/))[1]!) as { last: number; distinct: number; refreshes: number }
      await reader.exitsCleanly()
      expect(stats.last).toBe(n)
      log(`follow ${durability}: ${n} commits in ${Date.now() - t0} ms; reader ${JSON.stringify(stats)}`)
    },
    90_000,
  )

  it('a writer killed with kill -9 while a reader follows: the reader never sees a partial commit', async () => {
    const rng = new Rng(seed + 1)
    createEmpty()
    const t0 = Date.now()
    const reader = spawnChild('reader.mjs', 'follow', dbPath)
    await reader.waitFor(/^READY 0$/)
    let version = 0
    let torn = 0
    let fakeTorn = 0
    for (let round = 0; round < 10; round++) {
      const durability = round % 2 === 1 ? 'none' : 'full'
      const delay = 20 + rng.int(281)
      const ctx = `seed ${seed + 1}, round ${round}, durability ${durability}, kill after ${delay} ms`
      // The new writer cuts off any torn tail the last one left, under the reader's feet.
      const w = spawnChild('writer.mjs', 'loop', dbPath, durability)
      const start = Number((await w.waitFor(/^READY (\d+)$/))[1])
      expect(start, ctx).toBe(version)
      await sleep(delay)
      const st = await w.kill9()
      expect(st.signal, `${ctx}\n${w.describe()}`).toBe('SIGKILL')
      const acked = lastAck(w, start)

      // The file is stable now: the reader's latest version and a fresh open's must agree.
      reader.send('SYNC')
      const at = Number((await reader.waitFor(/^AT (\d+)$/))[1])
      expect(at, ctx).toBeGreaterThanOrEqual(acked)
      const db = openRO()
      let tornBytes: number
      let lastCommitBytes: Buffer | undefined
      try {
        expect(db.version, ctx).toBe(at)
        tornBytes = db.recovery.tornBytes
        torn += tornBytes > 0 ? 1 : 0
        const head = db.internals.head
        if (head.commit.version > 0) {
          // The last commit's bytes: its new records and its commit record.
          const from = head.commit.prevOffset + COMMIT_RECORD_SIZE
          lastCommitBytes = Buffer.alloc(head.offset + COMMIT_RECORD_SIZE - from)
          const fd = fs.openSync(dbPath, 'r')
          try {
            expect(fs.readSync(fd, lastCommitBytes, 0, lastCommitBytes.length, from)).toBe(lastCommitBytes.length)
          } finally {
            fs.closeSync(fd)
          }
        }
      } finally {
        db.close()
      }

      if (round % 2 === 0 && lastCommitBytes !== undefined) {
        // A torn commit, made on purpose: a prefix of a real commit's bytes (valid records, no
        // complete commit record) appended while the reader follows. It must not move, and the
        // next writer cuts it off under its feet.
        const n = lastCommitBytes.length
        const choice = rng.int(3)
        const cut = choice === 0 ? n - 1 : choice === 1 && n > COMMIT_RECORD_SIZE ? n - COMMIT_RECORD_SIZE : 1 + rng.int(n - 1)
        fs.appendFileSync(dbPath, lastCommitBytes.subarray(0, cut))
        reader.send('SYNC')
        expect(Number((await reader.waitFor(/^AT (\d+)$/))[1]), `${ctx}, torn tail of ${cut}/${n} bytes`).toBe(at)
        const again = openRO()
        try {
          expect(again.version, ctx).toBe(at)
          expect(again.recovery.tornBytes, ctx).toBe(tornBytes + cut)
        } finally {
          again.close()
        }
        fakeTorn++
      }
      version = at
    }
    // A writer that lives: the reader follows it to the end.
    const w = spawnChild('writer.mjs', 'hold', dbPath)
    await w.waitFor(new RegExp(`^READY \\d+ ${version}$`))
    w.send('COMMIT 20')
    await w.waitFor(new RegExp(`^COMMITTED ${version + 20}$`))
    w.send('CLOSE')
    await w.exitsCleanly()
    reader.send('SYNC')
    await reader.waitFor(new RegExp(`^AT ${version + 20}$`))
    reader.send('STOP')
    const stats = (await reader.waitFor(/^DONE (.*)$/))[1]!
    await reader.exitsCleanly()
    log(`kill -9 under a follower: 10 rounds to version ${version + 20}, ${torn} torn tails (+${fakeTorn} made), ${Date.now() - t0} ms; reader ${stats}`)
  }, 90_000)
})
