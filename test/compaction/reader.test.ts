/**
 * A read-only handle across the swap: it keeps reading the old file until refresh(), which
 * moves it to the new file (latest version, new contents, the kept history); its snapshots and
 * iterators from before keep reading the old file. In this process (real files) and in a child
 * process running the built dist/.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { checkContents, expectCode, historyOf, type Db } from './helpers.js'

const repo = path.resolve(import.meta.dirname, '../..')
let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-reader-'))
  if (!fs.existsSync(path.join(repo, 'dist/index.js'))) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: repo, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`)
  }
}, 120_000)
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const key = (i: number): string => `k/${String(i).padStart(5, '0')}`

/** 30 versions: 1..20 load 500 keys each... then 21..30 overwrite `shared`. */
function build(file: string): { db: Db; contents: Map<number, Map<string, Buffer>> } {
  const db = open(file, { keyEncoding: 'utf8', durability: 'none' }) as Db
  const contents = new Map<number, Map<string, Buffer>>([[0, new Map()]])
  let m = new Map<string, Buffer>()
  for (let v = 1; v <= 30; v++) {
    m = new Map(m)
    if (v <= 20) {
      const ops = Array.from({ length: 500 }, (_, i) => ({ type: 'put' as const, key: key((v - 1) * 500 + i), value: Buffer.from(`v${v}`.repeat(1 + (i % 40))) }))
      for (const o of ops) m.set(o.key, o.value)
      expect(db.batch(ops)).toBe(v)
    } else {
      m.set('shared', Buffer.from(`shared@${v}`))
      expect(db.put('shared', Buffer.from(`shared@${v}`))).toBe(v)
    }
    contents.set(v, m)
  }
  return { db, contents }
}

describe('a read-only handle across the swap (same process)', () => {
  it('keeps the old file until refresh(), then follows to the new one; its old snapshots and iterators still work', () => {
    const file = path.join(dir, 'same.cambium')
    const { db, contents } = build(file)
    const ro = open(file, { readOnly: true, keyEncoding: 'utf8' }) as Db
    expect(ro.version).toBe(30)
    const snap5 = ro.checkout(5)
    const snap30 = ro.checkout(30)
    const iter = ro.keys()
    for (let i = 0; i < 100; i++) iter.next()

    const r = db.compact({ keep: { since: 25 } })
    expect([r.firstVersion, r.lastVersion, r.versionsKept]).toEqual([25, 30, 6])
    db.put('shared', Buffer.from('after-1'))
    db.put('only-new', Buffer.from('x'))
    const m32 = new Map(contents.get(30)!)
    m32.set('shared', Buffer.from('after-1'))
    m32.set('only-new', Buffer.from('x'))

    // Before refresh: still the old file, at its version.
    expect(ro.version).toBe(30)
    expect(ro.get('only-new')).toBeUndefined()
    checkContents(ro.checkout(3), contents.get(3)!, 'ro checkout(3) before refresh')

    expect(ro.refresh()).toBe(32)
    expect(ro.version).toBe(32)
    checkContents(ro, m32, 'ro latest after refresh', ['shared', 'only-new', key(0)])
    expect(historyOf(ro).map((h) => h.version)).toEqual([25, 26, 27, 28, 29, 30, 31, 32])
    expectCode(() => ro.checkout(5), 'ERR_VERSION_NOT_FOUND', 'ro checkout(5) after refresh')
    checkContents(ro.checkout(27), contents.get(27)!, 'ro checkout(27) after refresh')
    // Taken before: still the old file.
    checkContents(snap5, contents.get(5)!, 'ro snapshot v5 taken before')
    checkContents(snap30, contents.get(30)!, 'ro snapshot v30 taken before')
    expect([...iter].length).toBe(contents.get(30)!.size - 100)

    // Follows further commits on the new file, and a second compaction.
    db.put('shared', Buffer.from('after-2'))
    expect(ro.refresh()).toBe(33)
    expect(ro.get('shared')).toEqual(Buffer.from('after-2'))
    db.compact({ keep: 'latest' })
    expect(ro.refresh()).toBe(33)
    expect(historyOf(ro).map((h) => h.version)).toEqual([33])
    expect(ro.refresh()).toBe(33)
    db.put('shared', Buffer.from('after-3'))
    expect(ro.refresh()).toBe(34)
    expect(ro.get('shared')).toEqual(Buffer.from('after-3'))
    checkContents(snap5, contents.get(5)!, 'ro snapshot v5 after two compactions')
    ro.close()
    db.close()
  })

  it('a refresh() during compactAsync sees the commits made meanwhile on the old file, then the new file', async () => {
    const file = path.join(dir, 'async.cambium')
    const { db } = build(file)
    const ro = open(file, { readOnly: true, keyEncoding: 'utf8' }) as Db
    const p = db.compactAsync({ keep: 'latest', sliceMs: 0.5 })
    const seen: number[] = []
    let done = false
    void p.finally(() => (done = true))
    let i = 0
    while (!done) {
      db.put('shared', Buffer.from(`during ${i++}`))
      seen.push(ro.refresh())
      expect(ro.get('shared')).toEqual(Buffer.from(`during ${i - 1}`))
      await new Promise((r) => setImmediate(r))
    }
    await p
    expect(seen.length, 'refreshes while the compaction ran').toBeGreaterThan(3)
    expect(ro.refresh()).toBe(db.version)
    expect(ro.get('shared')).toEqual(db.get('shared'))
    expect(historyOf(ro)).toEqual(historyOf(db))
    for (let j = 1; j < seen.length; j++) expect(seen[j]).toBe(seen[j - 1]! + 1)
    ro.close()
    db.close()
  })
})

class Proc {
  readonly proc: ChildProcessWithoutNullStreams
  private readonly lines: string[] = []
  private waiters: Array<() => void> = []
  private stderr = ''
  constructor(args: string[]) {
    const env = { ...process.env }
    delete env['NODE_OPTIONS']
    this.proc = spawn(process.execPath, args, { env })
    createInterface({ input: this.proc.stdout }).on('line', (l) => {
      this.lines.push(l)
      for (const w of this.waiters.splice(0)) w()
    })
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()))
    this.proc.on('close', () => {
      for (const w of this.waiters.splice(0)) w()
    })
  }
  async next(prefix: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(prefix) || l.startsWith('FAIL'))
      if (i >= 0) {
        const l = this.lines.splice(i, 1)[0]!
        if (l.startsWith('FAIL')) throw new Error(`child: ${l}\n${this.stderr}`)
        return l
      }
      if (this.proc.exitCode !== null || Date.now() > deadline) throw new Error(`child: no "${prefix}" line (exit ${this.proc.exitCode}); stdout: ${this.lines.join('\n')}\nstderr: ${this.stderr}`)
      await new Promise<void>((r) => {
        this.waiters.push(r)
        setTimeout(r, 200)
      })
    }
  }
  send(l: string): void {
    this.proc.stdin.write(l + '\n')
  }
}

describe('a read-only handle in another process', () => {
  it('follows the writer across compactions at refresh(), its snapshot and iterator from before still readable', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'proc.cambium')
    const { db, contents } = build(file)
    const child = new Proc([path.join(import.meta.dirname, 'children/reader.mjs'), file])
    try {
      const ready = await child.next('READY')
      expect(ready).toBe(`READY 30 ${contents.get(30)!.size}`)
      const oldCount = contents.get(30)!.size

      db.compact({ keep: { since: 28 } })
      db.put('shared', Buffer.from('new-1'))
      child.send('REFRESH')
      expect(await child.next('AT')).toBe(`AT 31 ${oldCount} new-1 28,29,30,31`)
      expect(await child.next('OLD')).toBe(`OLD ${oldCount} shared@30 ${oldCount - 10} ERR_VERSION_NOT_FOUND`)

      db.compact({ keep: 'latest' })
      db.put('shared', Buffer.from('new-2'))
      db.put('extra', Buffer.from('e'))
      child.send('REFRESH')
      expect(await child.next('AT')).toBe(`AT 33 ${oldCount + 1} new-2 31,32,33`)
      expect(await child.next('OLD')).toBe(`OLD ${oldCount} shared@30 0 ERR_VERSION_NOT_FOUND`)
      child.send('STOP')
      await child.next('BYE')
    } finally {
      child.proc.kill()
      db.close()
    }
  })
})
