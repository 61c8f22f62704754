/**
 * T4: truncation at every byte. A database with a few commits is cut at every offset from
 * the start of its second-to-last commit's first record to the end of the file. Each cut
 * must open (read-only and read-write) at the newest commit whose record is wholly present,
 * with exact contents (every version), tornBytes = cut - end of that commit; the read-write
 * open cuts the file there, and a new commit works and survives a reopen.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { COMMIT_RECORD_SIZE } from '../../src/format/constants.js'
import type { Durability } from '../../src/index.js'
import { Rng } from '../helpers/rng.js'
import { SimFileIO } from '../helpers/sim-file-io.js'
import {
  applyStep,
  checkContents,
  DB_PATH,
  describeError,
  makeValue,
  Mismatch,
  openDb,
  planFrom,
  type WriteStep,
  type Workload,
  yieldToEventLoop,
} from './workload.js'

interface Built {
  wl: Workload
  image: Uint8Array
  /** ends[v]: file offset just past commit v's record. */
  ends: number[]
}

/** Runs `ops` on a fresh sim; `extra(db, sim)` may add steps that need the file (look-alike values). */
function build(ops: WriteStep[], durability: Durability, extra?: (bytes: Uint8Array, ends: number[]) => WriteStep[]): Built {
  const sim = new SimFileIO({ seed: 1, powersafeOverwrite: true })
  const db = openDb(sim, { durability })
  const ends = [sim.fileBytes(DB_PATH).length]
  const all = [...ops]
  const run = (steps: WriteStep[]): void => {
    for (const op of steps) {
      const before = db.version
      const v = applyStep(db, op)
      if (v !== before) {
        expect(v).toBe(ends.length)
        ends.push(sim.fileBytes(DB_PATH).length)
      }
    }
  }
  run(ops)
  if (extra !== undefined) {
    const more = extra(sim.fileBytes(DB_PATH), ends)
    all.push(...more)
    run(more)
  }
  db.close()
  const wl = planFrom(all)
  expect(ends.length).toBe(wl.versions.length)
  const image = sim.fileBytes(DB_PATH)
  expect(image.length).toBe(ends[ends.length - 1])
  return { wl, image, ends }
}

const rng = new Rng(4242)
const val = (n: number): Buffer => makeValue(rng, n)
const keys = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}/${String(i).padStart(3, '0')}`)

/** Cuts at every offset in [from, image.length] and checks both opens; returns the number of cuts. */
async function sweepCuts(b: Built, from: number, durability: Durability): Promise<number> {
  const { wl, image, ends } = b
  const failures: string[] = []
  let cuts = 0
  for (let cut = from; cut <= image.length; cut++) {
    if (++cuts % 200 === 0) await yieldToEventLoop()
    // The newest commit wholly present.
    let want = -1
    for (let v = 0; v < ends.length; v++) if (ends[v]! <= cut) want = v
    const torn = cut - ends[want]!
    const ctx = `cut at ${cut} of ${image.length} (${durability}; expect v${want}, tornBytes ${torn})`
    try {
      const sim = SimFileIO.fromImage(new Map([[DB_PATH, image.subarray(0, cut)]]), { seed: cut, powersafeOverwrite: true })
      const ro = openDb(sim, { durability, readOnly: true })
      if (ro.version !== want) throw new Mismatch(`${ctx}: read-only open at version ${ro.version}`)
      if (ro.recovery.tornBytes !== torn) throw new Mismatch(`${ctx}: read-only tornBytes ${ro.recovery.tornBytes}`)
      checkContents(ro, wl.versions[want]!, `${ctx} read-only`)
      ro.close()
      if (sim.fileBytes(DB_PATH).length !== cut) throw new Mismatch(`${ctx}: a read-only open changed the file size`)

      const db = openDb(sim, { durability })
      if (db.version !== want) throw new Mismatch(`${ctx}: read-write open at version ${db.version}`)
      if (db.recovery.tornBytes !== torn) throw new Mismatch(`${ctx}: read-write tornBytes ${db.recovery.tornBytes}`)
      const size = sim.fileBytes(DB_PATH).length
      if (size !== ends[want]) throw new Mismatch(`${ctx}: after the read-write open the file is ${size} bytes, expected ${ends[want]}`)
      // Latest with gets of every key; the version before it through checkout (the sweep
      // never cuts below the commit before the newest, so older versions are untouched).
      checkContents(db, wl.versions[want]!, `${ctx} latest`, wl.probeKeys)
      if (want > 0) checkContents(db.checkout(want - 1), wl.versions[want - 1]!, `${ctx} checkout(${want - 1})`)
      const nv = db.put('new/key', Buffer.from('after the cut'))
      if (nv !== want + 1) throw new Mismatch(`${ctx}: new commit is version ${nv}`)
      db.close()
      if (sim.openHandleCount !== 0) throw new Mismatch(`${ctx}: ${sim.openHandleCount} handles open after close`)

      const again = openDb(sim.crash('drop', 1), { durability, readOnly: true })
      if (again.version !== want + 1) throw new Mismatch(`${ctx}: reopened at version ${again.version} after the new commit`)
      if (again.recovery.tornBytes !== 0) throw new Mismatch(`${ctx}: reopened with tornBytes ${again.recovery.tornBytes}`)
      const m = new Map(wl.versions[want]!)
      m.set('new/key', Buffer.from('after the cut'))
      checkContents(again, m, `${ctx} after the new commit`)
      checkContents(again.checkout(want), wl.versions[want]!, `${ctx} checkout(${want}) after the new commit`)
      again.close()
    } catch (e) {
      failures.push(e instanceof Mismatch ? e.message : `${ctx}: ${describeError(e)}`)
    }
  }
  if (failures.length > 0) throw new Error(`${failures.length} failing cuts:\n${failures.slice(0, 15).join('\n')}`)
  return cuts
}

const base: WriteStep[] = [
  { t: 'batch', ops: keys('k', 60).map((k, i) => ({ t: 'put' as const, k, v: val(i % 7 === 0 ? 300 : 20 + (i % 40)) })) },
  { t: 'put', k: 'k/005', v: val(40) },
  { t: 'del', k: 'k/010' },
]

let totalCuts = 0

// Each case reopens the file at every cut (~4 s on this 2-core machine): past vitest's 5 s default when the machine is busy.
describe('truncation at every byte (T4)', () => {
  afterAll(() => console.log(`[truncation] ${totalCuts} cuts checked (each: read-only open, read-write open, new commit, reopen)`))

  for (const durability of ['full', 'none'] as const) {
    it(`last commits: a batch with out-of-line values, then a transaction (${durability})`, { timeout: 60_000 }, async () => {
      const b = build(
        [
          ...base,
          { t: 'batch', ops: [...keys('k', 12).map((k) => ({ t: 'put' as const, k, v: val(30) })), { t: 'put', k: 'big/1', v: val(420) }, { t: 'del', k: 'k/020' }] },
          { t: 'tx', abort: false, ops: [{ t: 'put', k: 'big/2', v: val(300) }, { t: 'del', k: 'k/030' }, { t: 'put', k: 'k/031', v: val(12) }] },
        ],
        durability,
      )
      const n = b.ends.length - 1
      totalCuts += await sweepCuts(b, b.ends[n - 2]!, durability)
    })

    it(`last commits: a rollback (no nodes) and a delete of an absent key (${durability})`, { timeout: 60_000 }, async () => {
      const b = build([...base, { t: 'put', k: 'z', v: val(500) }, { t: 'rollback', to: 1 }, { t: 'del', k: 'absent' }], durability)
      const n = b.ends.length - 1
      totalCuts += await sweepCuts(b, b.ends[n - 3]!, durability)
    })
  }

  it('a value holding a copy of an earlier commit record (a look-alike) is stepped over', { timeout: 60_000 }, async () => {
    const b = build(base, 'full', (bytes, ends) => {
      // The record of the newest commit so far, verbatim (same file, so its salted CRC holds),
      // stored inside a value, with a bit of padding around it; then one more commit.
      const last = ends[ends.length - 1]!
      const rec = bytes.slice(last - COMMIT_RECORD_SIZE, last)
      const v = Buffer.concat([val(17), rec, val(9)])
      return [
        { t: 'put', k: 'lookalike', v },
        // The whole newest commit (nodes and record) as a value: framing look-alikes of every kind.
        { t: 'put', k: 'whole', v: Buffer.from(bytes.subarray(ends[ends.length - 2]!)) },
        { t: 'put', k: 'after', v: val(3) },
      ]
    })
    const n = b.ends.length - 1
    totalCuts += await sweepCuts(b, b.ends[n - 3]!, 'full')
  })
})
