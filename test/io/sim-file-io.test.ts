import { describe, expect, it } from 'vitest'
import type { FileHandle } from '../../src/io/file-io.js'
import { Rng } from '../helpers/rng.js'
import { CRASH_MODES, SimCrash, SimFileIO, type CrashMode } from '../helpers/sim-file-io.js'

const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]))

function read(h: FileHandle): Uint8Array {
  const buf = new Uint8Array(h.size())
  h.read(buf, 0)
  return buf
}

/** /d/f.db durably holds 1000 bytes of 0xAA; then 4 appends of 300 bytes (values 1..4) are pending. */
function appendScenario(seed = 1, powersafeOverwrite = false): { sim: SimFileIO; base: Uint8Array; appends: Uint8Array[] } {
  const sim = new SimFileIO({ seed, powersafeOverwrite })
  const h = sim.open('/d/f.db', 'create')
  const base = fill(1000, 0xaa)
  h.write(base, 0)
  h.sync()
  sim.syncDir('/d')
  const appends = [1, 2, 3, 4].map((v) => fill(300, v))
  let pos = base.length
  for (const a of appends) {
    h.write(a, pos)
    pos += a.length
  }
  return { sim, base, appends }
}

describe('SimFileIO pending vs durable', () => {
  it('reads see pending writes; only synced data survives a drop crash', () => {
    const sim = new SimFileIO()
    const h = sim.open('/d/f', 'create')
    sim.syncDir('/d')
    h.write(Uint8Array.of(1, 2, 3), 0)
    expect([...read(h)]).toEqual([1, 2, 3])
    expect(sim.pendingCount).toBe(1)
    expect(sim.crash('drop', 1).fileBytes('/d/f').length).toBe(0)

    const sim2 = new SimFileIO()
    const h2 = sim2.open('/d/f', 'create')
    sim2.syncDir('/d')
    h2.write(Uint8Array.of(1, 2, 3), 0)
    h2.sync()
    h2.truncate(1)
    h2.write(Uint8Array.of(9), 5)
    expect([...sim2.fileBytes('/d/f')]).toEqual([1, 0, 0, 0, 0, 9])
    expect([...sim2.crash('drop', 1).fileBytes('/d/f')]).toEqual([1, 2, 3])
  })

  it('keeps creation, rename and unlink pending until syncDir', () => {
    const sim = new SimFileIO()
    const h = sim.open('/d/new', 'create')
    h.write(Uint8Array.of(7), 0)
    h.sync()
    expect(sim.crash('drop', 1).exists('/d/new')).toBe(false)

    // Atomic replace: write and sync a temp file, rename it over the old one, sync the directory.
    const s2 = SimFileIO.fromImage(new Map([['/d/db', Uint8Array.of(1)]]))
    const oldId = s2.fileId('/d/db')
    const t = s2.open('/d/db.tmp', 'create')
    t.write(Uint8Array.of(2), 0)
    t.sync()
    s2.rename('/d/db.tmp', '/d/db')
    expect(s2.fileId('/d/db')).not.toBe(oldId)
    expect([...s2.clone().crash('drop', 1).fileBytes('/d/db')]).toEqual([1])
    s2.syncDir('/d')
    const after = s2.crash('drop', 1)
    expect([...after.fileBytes('/d/db')]).toEqual([2])
    expect(after.listFiles()).toEqual(['/d/db'])

    const s3 = SimFileIO.fromImage(new Map([['/d/x', Uint8Array.of(1)]]))
    s3.unlink('/d/x')
    expect(s3.exists('/d/x')).toBe(false)
    expect(s3.clone().crash('drop', 1).exists('/d/x')).toBe(true)
    s3.syncDir('/d')
    expect(s3.crash('drop', 1).exists('/d/x')).toBe(false)
  })

  it('applies directory ops at a crash only as a prefix, whatever the mode', () => {
    for (let seed = 0; seed < 200; seed++) {
      const sim = new SimFileIO()
      sim.open('/d/a', 'create').close()
      sim.rename('/d/a', '/d/b')
      const files = sim.crash('subset', seed).listFiles()
      expect([[], ['/d/a'], ['/d/b']]).toContainEqual(files)
    }
  })

  it('copies written data, so a reused Buffer does not change what was written', () => {
    const sim = new SimFileIO()
    const h = sim.open('/f', 'create')
    const buf = Buffer.from([1, 2, 3])
    h.write(buf, 0)
    buf.fill(9)
    expect([...sim.fileBytes('/f')]).toEqual([1, 2, 3])
    h.sync()
    sim.syncDir('/')
    expect([...sim.crash('drop', 1).fileBytes('/f')]).toEqual([1, 2, 3])
  })

  it('behaves like the fs for errors: EEXIST, ENOENT, EBADF', () => {
    const sim = new SimFileIO()
    sim.open('/f', 'create').close()
    expect(() => sim.open('/f', 'create')).toThrow(expect.objectContaining({ code: 'EEXIST', errno: -17 }))
    expect(() => sim.open('/none', 'rw')).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    const r = sim.open('/f', 'r')
    expect(() => r.write(Uint8Array.of(1), 0)).toThrow(expect.objectContaining({ code: 'EBADF' }))
    r.close()
    r.close()
    expect(() => r.size()).toThrow(expect.objectContaining({ code: 'EBADF' }))
    expect(sim.openHandleCount).toBe(0)
  })
})

describe('SimFileIO#crash()', () => {
  const full = (base: Uint8Array, appends: Uint8Array[], k: number): Uint8Array => concat(base, ...appends.slice(0, k))

  it.each(CRASH_MODES)('%s produces a plausible image', (mode: CrashMode) => {
    const images = new Set<string>()
    for (let seed = 0; seed < 300; seed++) {
      const { sim, base, appends } = appendScenario(seed)
      const out = sim.crash(mode, new Rng(seed)).fileBytes('/d/f.db')
      images.add(hex(out))
      const prefixes = [0, 1, 2, 3, 4].map((k) => hex(full(base, appends, k)))
      const everything = full(base, appends, 4)
      if (mode === 'drop') expect(hex(out)).toBe(hex(base))
      else if (mode === 'prefix') expect(prefixes).toContain(hex(out))
      else if (mode === 'subset') {
        // Each 300-byte append region holds its data, or zeros if dropped while a later one landed.
        expect(out.subarray(0, 1000)).toEqual(base)
        for (let i = 0; i < 4; i++) {
          const region = out.subarray(1000 + 300 * i, 1300 + 300 * i)
          if (region.length > 0) expect([hex(appends[i] as Uint8Array), hex(fill(300, 0))]).toContain(hex(region))
        }
      } else if (mode === 'torn') {
        expect(out.length).toBeGreaterThanOrEqual(1000)
        expect(out.length).toBeLessThan(everything.length)
        expect(hex(out)).toBe(hex(everything.subarray(0, out.length)))
      } else {
        // garbage: full length; the last append is intact only if nothing was dropped, otherwise
        // scrambled; sector 0 (before the first append's sector) is never touched.
        expect(out.length).toBe(everything.length)
        expect(out.subarray(0, 512)).toEqual(base.subarray(0, 512))
        if (hex(out.subarray(1900)) === hex(appends[3] as Uint8Array)) expect(hex(out)).toBe(hex(everything))
      }
    }
    expect(images.size).toBeGreaterThan(mode === 'drop' ? 0 : 4)
  })

  it('torn crashes sometimes cut at a 512-byte sector boundary', () => {
    const lengths = new Set<number>()
    for (let seed = 0; seed < 300; seed++) lengths.add(appendScenario(seed).sim.crash('torn', seed).fileBytes('/d/f.db').length)
    expect([...lengths].some((n) => n % 512 === 0 && n > 1000)).toBe(true)
    expect([...lengths].some((n) => n % 512 !== 0)).toBe(true)
  })

  it('garbage (sector granular) can scramble synced bytes sharing a sector with a dropped write', () => {
    let hit = 0
    for (let seed = 0; seed < 100; seed++) {
      const { sim, base } = appendScenario(seed)
      if (hex(sim.crash('garbage', seed).fileBytes('/d/f.db').subarray(512, 1000)) !== hex(base.subarray(512))) hit++
    }
    expect(hit).toBeGreaterThan(0)
  })

  it('garbage with powersafeOverwrite scrambles exactly the dropped appends', () => {
    const ks = new Set<number>()
    for (let seed = 0; seed < 100; seed++) {
      const { sim, base, appends } = appendScenario(seed, true)
      const out = sim.crash('garbage', seed).fileBytes('/d/f.db')
      expect(out.length).toBe(2200)
      expect(out.subarray(0, 1000)).toEqual(base)
      const landed = appends.map((a, i) => hex(out.subarray(1000 + 300 * i, 1300 + 300 * i)) === hex(a))
      const k = landed.indexOf(false) < 0 ? 4 : landed.indexOf(false)
      expect(landed.slice(k).every((x) => !x)).toBe(true)
      ks.add(k)
    }
    expect(ks.size).toBe(5)
  })

  it('is deterministic for a seed, and a dead sim can be crashed again in every mode', () => {
    const a = appendScenario(5).sim
    const b = appendScenario(5).sim
    for (const mode of CRASH_MODES) {
      for (let s = 0; s < 20; s++) expect(hex(a.crash(mode, s).fileBytes('/d/f.db'))).toBe(hex(b.crash(mode, s).fileBytes('/d/f.db')))
    }
    expect(a.isCrashed).toBe(true)
  })

  it('leaves the old sim dead and the new one unlocked, quiescent and counting from 0', () => {
    const { sim } = appendScenario()
    const h = sim.open('/d/f.db', 'rw')
    sim.lock('/d/f.db')
    const next = sim.crash('prefix', 3)
    expect(() => h.read(new Uint8Array(1), 0)).toThrow(SimCrash)
    expect(() => sim.exists('/d/f.db')).toThrow(SimCrash)
    expect(() => h.close()).not.toThrow()
    expect(next.ops).toBe(0)
    expect(next.pendingCount).toBe(0)
    next.lock('/d/f.db').release()
  })
})

describe('SimFileIO fault plan', () => {
  /** A fixed script touching every counted op kind: 8 ops. */
  function script(sim: SimFileIO): void {
    const h = sim.open('/d/f', 'create') // 1
    h.write(fill(10, 1), 0) // 2
    h.sync() // 3
    sim.syncDir('/d') // 4
    h.truncate(5) // 5
    sim.rename('/d/f', '/d/g') // 6
    h.write(fill(3, 2), 5) // 7
    sim.unlink('/d/g') // 8
    h.size()
    h.close()
  }

  it('counts ops and crashes before op crashAt; later calls throw SimCrash too', () => {
    const clean = new SimFileIO()
    script(clean)
    expect(clean.ops).toBe(8)
    for (let n = 1; n <= 8; n++) {
      const seen: number[] = []
      const sim = new SimFileIO({ plan: { crashAt: n }, onOp: (op) => seen.push(op) })
      expect(() => script(sim)).toThrow(SimCrash)
      expect(sim.ops).toBe(n)
      expect(seen.at(-1)).toBe(n)
      expect(() => sim.open('/x', 'create')).toThrow(expect.objectContaining({ name: 'SimCrash', op: n }))
      // Op n never happened: e.g. crashing at 3 leaves the write of op 2 unsynced.
      if (n === 3) expect(sim.crash('drop', 1).listFiles()).toEqual([])
    }
  })

  it('fails op failAt with an errno error, writing a random prefix first; later ops succeed', () => {
    let partial = 0
    for (let seed = 0; seed < 50; seed++) {
      const sim = new SimFileIO({ seed, plan: { failAt: 2, failWith: 'ENOSPC' } })
      const h = sim.open('/f', 'create')
      expect(() => h.write(fill(100, 7), 0)).toThrow(
        expect.objectContaining({ code: 'ENOSPC', errno: -28, syscall: 'write', message: expect.stringMatching(/^ENOSPC: /) }),
      )
      const size = h.size()
      expect(size).toBeLessThan(100)
      if (size > 0) partial++
      h.write(fill(1, 8), 200)
      expect(h.size()).toBe(201)
    }
    expect(partial).toBeGreaterThan(40)
    const whole = new SimFileIO({ plan: { failAt: 2, failWith: 'EFBIG', partialWrite: false } })
    const h = whole.open('/f', 'create')
    expect(() => h.write(fill(100, 7), 0)).toThrow(expect.objectContaining({ code: 'EFBIG', errno: -27 }))
    expect(h.size()).toBe(0)
  })

  it('fails every op from failAt for failCount ops (a disk that stays full)', () => {
    const sim = new SimFileIO({ plan: { failAt: 3, failCount: Infinity, failWith: 'ENOSPC' } })
    const h = sim.open('/f', 'create')
    h.write(fill(1, 1), 0)
    expect(() => h.sync()).toThrow(expect.objectContaining({ code: 'ENOSPC', syscall: 'fdatasync' }))
    expect(() => sim.rename('/f', '/g')).toThrow(expect.objectContaining({ code: 'ENOSPC' }))
    expect(sim.exists('/f')).toBe(true)
  })

  it('failSyncAt: the Nth sync fails with EIO; its data may be lost although reads still see it', () => {
    const outcomes = new Set<string>()
    for (let seed = 0; seed < 40; seed++) {
      const sim = new SimFileIO({ seed, plan: { failSyncAt: 2 } })
      const h = sim.open('/f', 'create')
      sim.syncDir('/')
      h.write(fill(4, 1), 0)
      h.sync()
      h.write(fill(4, 2), 4)
      expect(() => h.sync()).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'fdatasync' }))
      h.sync()
      expect(sim.fileBytes('/f').length).toBe(8)
      outcomes.add(hex(sim.crash('drop', seed).fileBytes('/f')))
    }
    expect(outcomes).toEqual(new Set([hex(fill(4, 1)), hex(concat(fill(4, 1), fill(4, 2)))]))
  })
})

describe('SimFileIO locks and test helpers', () => {
  it('refuses a second lock on a held path; release is idempotent', () => {
    const sim = new SimFileIO()
    const a = sim.lock('/d/db')
    expect(() => sim.lock('/d/db')).toThrow(expect.objectContaining({ code: 'ERR_LOCKED', path: '/d/db' }))
    expect(() => sim.lock('/d/../d/db')).toThrow(expect.objectContaining({ name: 'CambiumError', code: 'ERR_LOCKED' }))
    a.release()
    a.release()
    sim.lock('/d/db').release()
  })

  it('edits bytes durably: bitFlip, corruptBytes, truncateFile, setFileBytes', () => {
    const sim = SimFileIO.fromImage(new Map([['/f', Uint8Array.of(0, 0, 0, 0)]]))
    sim.bitFlip('/f', 1, 3)
    sim.corruptBytes('/f', 3, Uint8Array.of(5, 6))
    expect([...sim.fileBytes('/f')]).toEqual([0, 8, 0, 5, 6])
    sim.truncateFile('/f', 2)
    expect([...sim.crash('drop', 1).fileBytes('/f')]).toEqual([0, 8])
    expect(() => sim.bitFlip('/f', 9, 0)).toThrow(RangeError)

    const s2 = new SimFileIO()
    s2.setFileBytes('/a/b', Uint8Array.of(1, 2))
    expect([...(s2.snapshotImage().get('/a/b') ?? [])]).toEqual([1, 2])
  })

  it('clone() copies pending state independently and restarts the op counter', () => {
    const { sim } = appendScenario()
    const c = sim.clone()
    expect(c.ops).toBe(0)
    expect(c.pendingCount).toBe(sim.pendingCount)
    c.corruptBytes('/d/f.db', 0, Uint8Array.of(0))
    expect(sim.fileBytes('/d/f.db')[0]).toBe(0xaa)
    expect(hex(c.crash('drop', 1).fileBytes('/d/f.db').subarray(1))).toBe(hex(sim.crash('drop', 1).fileBytes('/d/f.db').subarray(1)))
  })
})
