/**
 * A child process speaking a line protocol on stdin/stdout (see children/*.mjs). Tests wait for
 * lines, never for time: waitFor() resolves on the first matching line not yet consumed, and
 * rejects (with the child's output) on timeout, on exit before a match, or on a "FAIL" line.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll } from 'vitest'

const childrenDir = path.join(import.meta.dirname, 'children')
const live = new Set<Child>()

export interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

export class Child {
  readonly name: string
  readonly proc: ChildProcessWithoutNullStreams
  /** Every stdout line so far. */
  readonly lines: string[] = []
  private stderr = ''
  /** Lines before this index have been consumed by waitFor(). */
  private cursor = 0
  private status: ExitStatus | undefined
  private wake: Array<() => void> = []
  private readonly closed: Promise<ExitStatus>

  constructor(script: string, args: string[]) {
    this.name = `${script} ${args[0] ?? ''}`.trim()
    const env = { ...process.env }
    delete env['NODE_OPTIONS']
    this.proc = spawn(process.execPath, [path.join(childrenDir, script), ...args], { env })
    live.add(this)
    let buf = ''
    this.proc.stdout.setEncoding('utf8')
    this.proc.stdout.on('data', (d: string) => {
      buf += d
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i))
        buf = buf.slice(i + 1)
      }
      this.notify()
    })
    this.proc.stderr.setEncoding('utf8')
    this.proc.stderr.on('data', (d: string) => {
      if (this.stderr.length < 20_000) this.stderr += d
    })
    // 'close' (not 'exit'): all of stdout has been read by then, e.g. the ACKs of a killed child.
    this.closed = new Promise((resolve) => {
      this.proc.on('close', (code, signal) => {
        this.status = { code, signal }
        live.delete(this)
        this.notify()
        resolve(this.status)
      })
    })
    this.proc.stdin.on('error', () => {
      // EPIPE after the child died: its exit status tells the story.
    })
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name}: spawn failed\n${this.stderr}`)
    return this.proc.pid
  }

  private notify(): void {
    for (const w of this.wake.splice(0)) w()
  }

  describe(): string {
    const tail = this.lines.slice(-15).join('\n')
    return `${this.name} (pid ${this.proc.pid}, status ${JSON.stringify(this.status ?? 'running')})\n--- last stdout lines:\n${tail}\n--- stderr:\n${this.stderr}`
  }

  send(line: string): void {
    this.proc.stdin.write(line + '\n')
  }

  /** The first unconsumed line matching `re` (lines before it are consumed too). */
  async waitFor(re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (this.cursor < this.lines.length) {
        const line = this.lines[this.cursor++]!
        if (line.startsWith('FAIL ')) throw new Error(`${this.name} failed: ${line}\n${this.describe()}`)
        const m = re.exec(line)
        if (m !== null) return m
      }
      if (this.status !== undefined) throw new Error(`${this.name} exited before printing ${re}\n${this.describe()}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms\n${this.describe()}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.wake.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Resolves when the child has exited and its stdout is drained. */
  async exit(timeoutMs = 30_000): Promise<ExitStatus> {
    let t: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${this.name}: did not exit within ${timeoutMs} ms\n${this.describe()}`)), timeoutMs)
    })
    try {
      return await Promise.race([this.closed, timeout])
    } finally {
      clearTimeout(t)
    }
  }

  /** Expects a clean exit (code 0), with no FAIL line. */
  async exitsCleanly(timeoutMs = 30_000): Promise<void> {
    const s = await this.exit(timeoutMs)
    const failed = this.lines.find((l) => l.startsWith('FAIL '))
    if (s.code !== 0 || failed !== undefined) throw new Error(`${this.name} did not exit cleanly\n${this.describe()}`)
  }

  /** SIGKILL, then wait until it is gone (reaped, stdout drained). */
  async kill9(): Promise<ExitStatus> {
    this.proc.kill('SIGKILL')
    return this.exit()
  }

  /** Versions from the "ACK <v>" lines, in order. */
  acks(): number[] {
    const out: number[] = []
    for (const l of this.lines) if (l.startsWith('ACK ')) out.push(Number(l.slice(4)))
    return out
  }
}

export function spawnChild(script: 'writer.mjs' | 'reader.mjs', ...args: string[]): Child {
  return new Child(script, args)
}

/** Kills every child still running (a failed test's leftovers) and waits for them. */
export async function killLiveChildren(): Promise<void> {
  const all = [...live]
  for (const c of all) c.proc.kill('SIGKILL')
  await Promise.all(all.map((c) => c.exit(10_000).catch(() => undefined)))
}

const repoRoot = path.resolve(import.meta.dirname, '../..')

/** Builds dist/ if it is missing (`npm test` builds first; a bare vitest run may not have). */
export function ensureBuilt(): void {
  if (fs.existsSync(path.join(repoRoot, 'dist/index.js'))) return
  const r = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`)
}

/** Gives the test file a temporary directory (passed to `set` before the tests), and removes
 *  it after them, once every child process still running is killed. */
export function useTempDir(prefix: string, set: (dir: string) => void): void {
  let dir = ''
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    set(dir)
    ensureBuilt()
  }, 120_000)
  afterAll(async () => {
    await killLiveChildren()
    fs.rmSync(dir, { recursive: true, force: true })
  })
}
