/**
 * Model-based tests: random op sequences run against a real database file and against a
 * model that keeps EVERY version (test/model/model.ts); every answer is compared. See
 * test/model/ops.ts for the op language and harness.ts for what each op checks: put/delete/
 * batch/transactions (own reads, throws, no-write), get/has/range/keys/values/count with every
 * option, checkout, rollback, history, close/reopen (other durability/nodeSize/cacheSize),
 * read-only handles and refresh(), iterators and snapshots kept across later writes,
 * compact()/compactAsync()/autoCompact with every keep policy, and rejected misuse.
 * Regressions for bugs found this way: regressions.test.ts.
 *
 * Replay / soak (the failure message prints the exact command):
 *   CAMBIUM_MODEL_SEED=<seed> CAMBIUM_MODEL_PATH=<path> npx vitest run --config test/vitest.config.ts test/model -t '<property>'
 *   CAMBIUM_MODEL_RUNS=<runs per property> (e.g. 20000) for a soak; tools/soak/model-soak.sh loops over seeds.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ops, PROFILES, runConfig, volumeOps } from './gen.js'
import { runCase } from './harness.js'
import type { Op, RunConfig } from './ops.js'

const envInt = (name: string): number | undefined => {
  const v = process.env[name]
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${v}`)
  return n
}

const SEED = envInt('CAMBIUM_MODEL_SEED')
const PATH = process.env['CAMBIUM_MODEL_PATH'] || undefined
const RUNS = envInt('CAMBIUM_MODEL_RUNS')
/** soaks (CAMBIUM_MODEL_RUNS) may take hours; shrinking a failure may take minutes */
const TIMEOUT = RUNS !== undefined ? 24 * 3600_000 : 600_000

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-model-'))
})
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const stats = { runs: 0, versions: 0, maxKeys: 0, maxHeight: 0, tall: 0, drops: 0, maxFile: 0, over8MiB: 0, compactions: { sync: 0, async: 0, auto: 0, abandoned: 0 } }

function property(name: string, opsArb: fc.Arbitrary<Op[]>, smallNodes: number, numRuns: number): void {
  it(
    name,
    async () => {
      const arb = fc.tuple(runConfig(smallNodes), opsArb)
      const details = await fc.check(
        fc.asyncProperty(arb, async ([cfg, o]: [RunConfig, Op[]]) => {
          const r = await runCase(dir, cfg, o)
          stats.runs++
          stats.versions += r.versions
          stats.maxKeys = Math.max(stats.maxKeys, r.maxKeys)
          stats.maxHeight = Math.max(stats.maxHeight, r.maxHeight)
          if (r.maxHeight >= 3) stats.tall++
          if (r.heightDrops > 0) stats.drops++
          stats.maxFile = Math.max(stats.maxFile, r.fileSize)
          if (r.fileSize > 8 << 20) stats.over8MiB++
          for (const k of ['sync', 'async', 'auto', 'abandoned'] as const) stats.compactions[k] += r.compactions[k]
        }),
        {
          numRuns: RUNS ?? numRuns,
          ...(SEED === undefined ? {} : { seed: SEED }),
          ...(PATH === undefined ? {} : { path: PATH, endOnFailure: true }),
        },
      )
      if (details.failed) {
        const replay =
          `\n\nReplay: CAMBIUM_MODEL_SEED=${details.seed} CAMBIUM_MODEL_PATH=${details.counterexamplePath ?? ''} ` +
          `npx vitest run --config test/vitest.config.ts test/model -t '${name}'`
        const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
        throw new Error(`${cause}\n\n${fc.defaultReportMessage(details)}${replay}`)
      }
      // every planned run ran (none skipped or interrupted)
      if (PATH === undefined) expect(details.numRuns).toBe(RUNS ?? numRuns)
    },
    TIMEOUT,
  )
}

describe('model-based: every version against a full model', () => {
  // ~2,200 runs in total; tuned to keep this file to well under a minute on an idle 2-core machine.
  property('mixed ops, small keys, all APIs', ops(PROFILES.mixed), 3, 1200)
  property('deep trees: big fills, purges and re-adds (splits and merges)', ops(PROFILES.deep), 8, 200)
  property('iterator isolation across commits and tx writes', ops(PROFILES.iter), 4, 400)
  property('long keys and large values', ops(PROFILES.large), 4, 250)
  property('many versions: bursts of commits, checkout, rollback, history', ops(PROFILES.versions), 3, 120)
  property('volume: ~100 KB values, commits past the recovery window', volumeOps(PROFILES.volume), 3, 6)

  afterAll(() => {
    // eslint-disable-next-line no-console
    console.log(
      `model runs: ${stats.runs}, versions committed: ${stats.versions}, largest key count: ${stats.maxKeys}, ` +
        `tallest tree: ${stats.maxHeight}, runs with height >= 3: ${stats.tall}, runs where the tree lost a level: ${stats.drops}, largest file: ${(stats.maxFile / 2 ** 20).toFixed(1)} MiB, files over 8 MiB: ${stats.over8MiB}, compactions: ${JSON.stringify(stats.compactions)}`,
    )
  })
})
