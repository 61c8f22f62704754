/**
 * T7: two writer processes race for the writer lock, 100 times. Each lane is one database
 * and two long-lived contender processes (writer.mjs 'racer'); lanes run in parallel. In each
 * round both contenders are told to call open() at the same wall-clock moment; exactly one
 * must win and the other must get ERR_LOCKED naming the winner's pid. The winner then commits
 * once and closes (the lock file must be gone). Every other round starts over a stale lock:
 * a writer that took the lock is killed with kill -9 first, so both contenders go through the
 * reclaim path and still only one may win; the figure reported is how long the winner's
 * open() took then (the time to reclaim a dead writer's lock). The two open() calls of a race
 * start within 1 ms of each other in almost every round (the log line counts them).
 *
 *   CAMBIUM_RACE_ROUNDS (default 100), CAMBIUM_RACE_LANES (default 1: more lanes run faster but
 *   the contenders of a race then leave their spin loops less often within 1 ms of each other).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { spawnChild, useTempDir } from './child.js'
import { checkVersion } from './children/common.mjs'

const envInt = (name: string, dflt: number): number => {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${v}`)
  return n
}
const ROUNDS = envInt('CAMBIUM_RACE_ROUNDS', 100)
const LANES = envInt('CAMBIUM_RACE_LANES', 1)
const utf8 = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const
const log = (msg: string) => console.log(`[race] ${msg}`)

let dir: string
useTempDir('cambium-race-', (d) => (dir = d))

interface LaneResult {
  rounds: number
  stale: number
  /** |start(a) - start(b)| in µs, per round */
  skewUs: number[]
  /** the winner's open() in µs: fresh lock, stale lock */
  openFreshUs: number[]
  openStaleUs: number[]
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

let slot: Promise<unknown> = Promise.resolve()
/** Runs `fn` after every earlier call's fn has settled (a FIFO mutex). */
function raceSlot<T>(fn: () => Promise<T>): Promise<T> {
  const run = slot.then(fn, fn)
  slot = run.catch(() => undefined)
  return run
}

async function lane(id: number, rounds: number): Promise<LaneResult> {
  const dbPath = path.join(dir, `race-${id}.cambium`)
  const lockPath = dbPath + '.lock'
  open(dbPath, utf8).close()
  const racers = [spawnChild('writer.mjs', 'racer', dbPath), spawnChild('writer.mjs', 'racer', dbPath)] as const
  await Promise.all(racers.map((r) => r.waitFor(/^READY$/)))
  const res: LaneResult = { rounds: 0, stale: 0, skewUs: [], openFreshUs: [], openStaleUs: [] }
  for (let round = 0; round < rounds; round++) {
    const stale = round % 2 === 1
    const ctx = `lane ${id}, round ${round}${stale ? ' (stale lock)' : ''}`
    if (stale) {
      // A writer that dies holding the lock: its lock file names a dead pid.
      const holder = spawnChild('writer.mjs', 'hold', dbPath)
      await holder.waitFor(/^READY /)
      await holder.kill9()
      expect((JSON.parse(fs.readFileSync(lockPath, 'utf8')) as { pid: number }).pid, ctx).toBe(holder.pid)
      res.stale++
    }
    // One race at a time across lanes: four processes spinning on two cores would not leave
    // their spin loops together. The lanes overlap only in the slower parts (kill, commit).
    const answers = await raceSlot(async () => {
      const at = Date.now() + 40
      for (const r of racers) r.send(`GO ${at}`)
      return Promise.all(racers.map((r) => r.waitFor(/^(WON|LOST) (.*)$/)))
    })
    const kinds = answers.map((m) => m[1]).sort()
    expect(kinds, `${ctx}: ${answers.map((m) => m[0]).join(' / ')}`).toEqual(['LOST', 'WON'])
    const wi = answers[0]![1] === 'WON' ? 0 : 1
    const winner = racers[wi]!
    const [, pid, startWin, openUs] = answers[wi]![2]!.match(/^(\d+) (\d+) (\d+)$/) ?? [answers[wi]![2]!]
    expect(Number(pid), ctx).toBe(winner.pid)
    const lost = answers[1 - wi]![2]!
    const sp = lost.indexOf(' ')
    const startLose = Number(lost.slice(0, sp))
    const err = JSON.parse(lost.slice(sp + 1)) as { code: string | null; message: string }
    expect(err.code, `${ctx}: ${err.message}`).toBe('ERR_LOCKED')
    expect(err.message, ctx).toMatch(new RegExp(`\\bprocess ${winner.pid}\\b`))
    res.skewUs.push(Math.abs(Number(startWin) - startLose))
    ;(stale ? res.openStaleUs : res.openFreshUs).push(Number(openUs))
    winner.send('FINISH')
    await winner.waitFor(/^DONE \d+$/)
    expect(fs.existsSync(lockPath), `${ctx}: lock file left after close`).toBe(false)
    res.rounds++
  }
  for (const r of racers) r.proc.stdin.end()
  await Promise.all(racers.map((r) => r.exitsCleanly()))
  const db = open(dbPath, { ...utf8, readOnly: true })
  try {
    expect(db.version).toBe(rounds)
    checkVersion(db, rounds, true)
  } finally {
    db.close()
  }
  // Reclaims and releases leave nothing behind (no lock, guard, temp or set-aside files).
  expect(fs.readdirSync(dir).filter((f) => f.startsWith(`race-${id}.`))).toEqual([`race-${id}.cambium`])
  return res
}

describe('two writers started together (T7)', () => {
  it(`${ROUNDS} races over ${LANES} parallel lanes: exactly one wins, the other gets ERR_LOCKED; half over a dead writer's lock`, async () => {
    const t0 = Date.now()
    const per = Array.from({ length: LANES }, (_, i) => Math.floor(ROUNDS / LANES) + (i < ROUNDS % LANES ? 1 : 0))
    const results = await Promise.all(per.map((n, i) => lane(i, n)))
    const all = (f: (r: LaneResult) => number[]): number[] => results.flatMap(f)
    const rounds = results.reduce((a, r) => a + r.rounds, 0)
    const stale = results.reduce((a, r) => a + r.stale, 0)
    const skew = all((r) => r.skewUs)
    expect(rounds).toBe(ROUNDS)
    const ms = (us: number): string => (us / 1000).toFixed(2)
    log(
      `${rounds} races (${stale} over a stale lock, ${LANES} lanes) in ${Date.now() - t0} ms: ${rounds} with exactly one winner, ` +
        `${rounds} losers got ERR_LOCKED naming the winner; open() calls started within 1 ms of each other in ${skew.filter((s) => s <= 1000).length}/${rounds} ` +
        `(median skew ${ms(percentile(skew, 50))} ms); winner's open(): fresh lock p50 ${ms(percentile(all((r) => r.openFreshUs), 50))} ms, ` +
        `stale lock (reclaim) p50 ${ms(percentile(all((r) => r.openStaleUs), 50))} ms, p95 ${ms(percentile(all((r) => r.openStaleUs), 95))} ms, ` +
        `max ${ms(Math.max(...all((r) => r.openStaleUs)))} ms`,
    )
  }, 180_000)
})
