import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import ts from 'typescript'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { isCambiumError } from '../../src/errors.js'
import { acquireWriterLock, lockPathFor } from '../../src/io/lock.js'

const repo = path.resolve(import.meta.dirname, '../..')
let dir: string
let db: string
let childDir: string

/** The child runs plain JS: transpile lock.ts and its one dependency into a temp dir. */
function buildChild(): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-lock-child-'))
  for (const rel of ['errors.ts', 'io/lock.ts']) {
    const src = fs.readFileSync(path.join(repo, 'src', rel), 'utf8')
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText
    fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true })
    fs.writeFileSync(path.join(out, rel.replace(/\.ts$/, '.js')), js)
  }
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}')
  // Protocol on stdin/stdout: READY; "GO <epoch ms>" -> busy-wait until then, try the lock, print
  // WON or LOCKED; then "RELEASE" or "EXIT" (exit while holding: the exit hook must release).
  fs.writeFileSync(
    path.join(out, 'child.mjs'),
    `import { createInterface } from 'node:readline'
import { acquireWriterLock } from './io/lock.js'
let lock
const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const [cmd, arg] = line.split(' ')
  if (cmd === 'GO') {
    while (Date.now() < Number(arg)) {}
    try {
      lock = acquireWriterLock(process.argv[2])
      console.log('WON')
    } catch (e) {
      console.log((e.code === 'ERR_LOCKED' ? 'LOCKED ' : 'ERROR ') + e.message)
    }
  } else if (cmd === 'RELEASE') {
    lock?.release()
    process.exit(0)
  } else if (cmd === 'EXIT') {
    process.exit(0)
  }
})
console.log('READY')
`,
  )
  return out
}

class Child {
  readonly proc: ChildProcessWithoutNullStreams
  private lines: string[] = []
  private waiters: Array<() => void> = []
  readonly exited: Promise<number | null>

  constructor(dbPath: string) {
    this.proc = spawn(process.execPath, [path.join(childDir, 'child.mjs'), dbPath])
    let buf = ''
    this.proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i))
        buf = buf.slice(i + 1)
        for (const w of this.waiters.splice(0)) w()
      }
    })
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)))
  }

  async nextLine(): Promise<string> {
    while (this.lines.length === 0) await new Promise<void>((r) => this.waiters.push(r))
    return this.lines.shift() as string
  }

  send(line: string): void {
    this.proc.stdin.write(line + '\n')
  }
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''])
  if (r.pid === undefined) throw new Error('could not spawn node')
  return r.pid
}

function writeLock(info: Record<string, unknown>): void {
  const base = { hostname: os.hostname(), acquiredAt: new Date().toISOString(), token: 'x' }
  fs.writeFileSync(lockPathFor(db), JSON.stringify({ ...base, ...info }))
}

function expectLocked(fn: () => unknown, mention?: string): void {
  try {
    fn()
  } catch (e) {
    expect(isCambiumError(e, 'ERR_LOCKED')).toBe(true)
    const err = e as Error & { path?: string }
    expect(err.path).toBe(db)
    expect(err.message).toContain('readOnly: true')
    if (mention !== undefined) expect(err.message).toContain(mention)
    return
  }
  throw new Error('expected ERR_LOCKED')
}

const lockOwnerPid = (): number => (JSON.parse(fs.readFileSync(lockPathFor(db), 'utf8')) as { pid: number }).pid

beforeAll(() => {
  childDir = buildChild()
})
afterAll(() => {
  fs.rmSync(childDir, { recursive: true, force: true })
})
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-lock-'))
  db = path.join(dir, 'test.db')
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('acquireWriterLock()', () => {
  it('refuses a second lock in the same process; release then re-lock works', () => {
    const a = acquireWriterLock(db)
    expect(lockOwnerPid()).toBe(process.pid)
    expectLocked(() => acquireWriterLock(db), 'this process')
    a.release()
    expect(fs.existsSync(lockPathFor(db))).toBe(false)
    const b = acquireWriterLock(db)
    a.release()
    expect(fs.existsSync(lockPathFor(db))).toBe(true)
    b.release()
    b.release()
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('reclaims a lock file left by a dead process', () => {
    writeLock({ pid: deadPid(), startTime: null, bootId: null })
    const lock = acquireWriterLock(db)
    expect(lockOwnerPid()).toBe(process.pid)
    lock.release()
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('refuses a lock held by a live process, naming its pid', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
    try {
      writeLock({ pid: holder.pid, startTime: null, bootId: null })
      expectLocked(() => acquireWriterLock(db), `process ${holder.pid}`)
    } finally {
      holder.kill('SIGKILL')
    }
  })

  it.runIf(fs.existsSync('/proc/self/stat'))('treats a live pid with another start time as reused (stale)', () => {
    writeLock({ pid: process.ppid, startTime: '1', bootId: null })
    const lock = acquireWriterLock(db)
    expect(lockOwnerPid()).toBe(process.pid)
    lock.release()
  })

  it('refuses an unreadable lock file while young, reclaims it once old', () => {
    fs.writeFileSync(lockPathFor(db), '')
    expectLocked(() => acquireWriterLock(db), 'unreadable')
    const old = new Date(Date.now() - 60_000)
    fs.utimesSync(lockPathFor(db), old, old)
    acquireWriterLock(db).release()
  })

  it('waits for a live reclaim guard, and removes a stale one', () => {
    writeLock({ pid: deadPid(), startTime: null, bootId: null })
    const guard = lockPathFor(db) + '.reclaim'
    fs.writeFileSync(guard, '1')
    expectLocked(() => acquireWriterLock(db))
    const old = new Date(Date.now() - 60_000)
    fs.utimesSync(guard, old, old)
    acquireWriterLock(db).release()
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('releases held locks when the process exits, and reclaims after kill -9', async () => {
    const a = new Child(db)
    expect(await a.nextLine()).toBe('READY')
    a.send(`GO ${Date.now()}`)
    expect(await a.nextLine()).toBe('WON')
    expectLocked(() => acquireWriterLock(db), `process ${a.proc.pid}`)
    a.send('EXIT')
    await a.exited
    expect(fs.existsSync(lockPathFor(db))).toBe(false)

    const b = new Child(db)
    expect(await b.nextLine()).toBe('READY')
    b.send(`GO ${Date.now()}`)
    expect(await b.nextLine()).toBe('WON')
    b.proc.kill('SIGKILL')
    await b.exited
    expect(fs.existsSync(lockPathFor(db))).toBe(true)
    acquireWriterLock(db).release()
  })

  it('lets exactly one of two racing processes win, 20 times (every other round reclaiming a stale lock)', { timeout: 60_000 }, async () => {
    for (let round = 0; round < 20; round++) {
      if (round % 2 === 1) writeLock({ pid: deadPid(), startTime: null, bootId: null })
      const kids = [new Child(db), new Child(db)]
      for (const k of kids) expect(await k.nextLine()).toBe('READY')
      const at = Date.now() + 50
      for (const k of kids) k.send(`GO ${at}`)
      const results = await Promise.all(kids.map((k) => k.nextLine()))
      const winners = results.filter((r) => r === 'WON').length
      expect(results.filter((r) => r.startsWith('LOCKED')).length, `round ${round}: ${results.join(' | ')}`).toBe(1)
      expect(winners).toBe(1)
      for (const k of kids) k.send('RELEASE')
      await Promise.all(kids.map((k) => k.exited))
      expect(fs.readdirSync(dir), `round ${round}`).toEqual([])
    }
  })
})
