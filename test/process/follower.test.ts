/**
 * T8: a read-only follower process reads while a writer process commits 10,000 times
 * (durability 'full' by default: a commit per fdatasync paces the writer so the follower sees
 * a good share of the versions one by one; 'none' is ~4x faster but the follower then sees
 * only ~1% of them, as it falls behind and jumps ahead). The writer compacts twice along
 * the way (keep 'all'), so the follower also crosses file swaps. The follower (reader.mjs
 * 'follow') loops on refresh() and checks every version it sees: versions never go backwards,
 * and each is exactly what the writer published for that number (children/common.mjs: the
 * contents of version v are a function of v; point reads always, a full scan at least every
 * 100 ms, a random older version and the previous snapshot each time). Any mismatch ends
 * the follower with a FAIL line, which fails the test.
 *
 *   CAMBIUM_FOLLOW_COMMITS (default 10000), CAMBIUM_FOLLOW_DURABILITY (default 'full')
 */
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { spawnChild, useTempDir } from './child.js'
import { checkVersion } from './children/common.mjs'

const COMMITS = Number(process.env['CAMBIUM_FOLLOW_COMMITS'] || 10_000)
const DURABILITY = process.env['CAMBIUM_FOLLOW_DURABILITY'] || 'full'
const COMPACTIONS = 2
const utf8 = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const
const log = (msg: string) => console.log(`[follower] ${msg}`)

let dir: string
useTempDir('cambium-follow-', (d) => (dir = d))

describe('a follower process while a writer commits (T8)', () => {
  it(`${COMMITS} commits (durability ${DURABILITY}, ${COMPACTIONS} compactions): the follower only ever sees whole commits, in order, with the published contents`, async () => {
    const dbPath = path.join(dir, 'follow.cambium')
    open(dbPath, utf8).close()
    const t0 = Date.now()
    const reader = spawnChild('reader.mjs', 'follow', dbPath)
    await reader.waitFor(/^READY 0$/)
    const writer = spawnChild('writer.mjs', 'hold', dbPath, DURABILITY)
    await writer.waitFor(/^READY \d+ 0$/)
    const chunks = COMPACTIONS + 1
    let done = 0
    const compactions: Array<{ bytesBefore: number; bytesAfter: number; ms: number }> = []
    for (let c = 0; c < chunks; c++) {
      const n = Math.floor(COMMITS / chunks) + (c < COMMITS % chunks ? 1 : 0)
      writer.send(`COMMIT ${n}`)
      done += n
      await writer.waitFor(new RegExp(`^COMMITTED ${done}$`), 120_000)
      if (c < chunks - 1) {
        writer.send('COMPACT "all"')
        compactions.push(JSON.parse((await writer.waitFor(/^COMPACTED (.*)$/, 120_000))[1]!) as (typeof compactions)[number])
      }
    }
    expect(writer.acks()).toEqual(Array.from({ length: COMMITS }, (_, i) => i + 1))
    writer.send('CLOSE')
    await writer.exitsCleanly()

    reader.send('SYNC')
    await reader.waitFor(new RegExp(`^AT ${COMMITS}$`), 60_000)
    reader.send('STOP')
    const stats = JSON.parse((await reader.waitFor(/^DONE (.*)$/))[1]!) as {
      last: number
      distinct: number
      refreshes: number
      maxStep: number
      fullChecks: number
      spotChecks: number
    }
    await reader.exitsCleanly()
    expect(stats.last).toBe(COMMITS)
    const db = open(dbPath, { ...utf8, readOnly: true })
    try {
      expect(db.version).toBe(COMMITS)
      checkVersion(db, COMMITS, true)
    } finally {
      db.close()
    }
    log(
      `${COMMITS} commits (durability ${DURABILITY}) in ${Date.now() - t0} ms with ${compactions.length} compactions ` +
        `(${compactions.map((c) => `${c.bytesBefore} -> ${c.bytesAfter} bytes, ${Math.round(c.ms)} ms`).join('; ')}); ` +
        `the follower saw ${stats.distinct} distinct versions in ${stats.refreshes} refreshes (largest step ${stats.maxStep}), ` +
        `${stats.fullChecks} full scans and ${stats.spotChecks} spot checks, 0 mismatches`,
    )
  }, 240_000)
})
