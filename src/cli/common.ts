/**
 * What every command shares: exit codes, error printing (plain on stderr, or JSON on stdout
 * with --json), the --format encodings of keys and values, option parsers, buffered stdout
 * and colour (only on a TTY, never with NO_COLOR).
 */
import { once } from 'node:events'
import { styleText } from 'node:util'
import { InvalidArgumentError, type Command } from 'commander'
import { CambiumError, isCambiumError } from '../index.js'

export const EXIT_OK = 0
/** failure: damage found, absent key, any engine error */
export const EXIT_FAILURE = 1
/** command-line usage error: unknown option or command, bad argument */
export const EXIT_USAGE = 2
/** another process has the file open for writing (ERR_LOCKED) */
export const EXIT_LOCKED = 3

/** A usage error found after parsing (a key that is not valid hex, say): exit 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE'
}

/** A failure of the CLI itself (not an engine error), with a code for --json: exit 1. */
export class CliFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = EXIT_FAILURE,
  ) {
    super(message)
  }
}

// ---------------------------------------------------------------- colour

type Style = Parameters<typeof styleText>[0]

function colourOn(stream: NodeJS.WriteStream): boolean {
  const noColor = process.env['NO_COLOR']
  if (noColor !== undefined && noColor !== '') return false
  return stream.isTTY === true
}

/** `text` styled for `stream` (stdout by default): plain unless it is a TTY and NO_COLOR is unset.
 *  Node's own checks then apply too (FORCE_COLOR, NODE_DISABLE_COLORS, TERM=dumb). */
export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return colourOn(stream) ? styleText(style, text, { stream }) : text
}

// ---------------------------------------------------------------- formats

export const FORMATS = ['utf8', 'hex', 'base64', 'json'] as const
export type Format = (typeof FORMATS)[number]

export function parseFormat(value: string): Format {
  if (!(FORMATS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`must be one of ${FORMATS.join(', ')}`)
  }
  return value as Format
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const looseUtf8 = new TextDecoder('utf-8', { ignoreBOM: true })

/** Text given on the command line (or in a dump) to bytes, under a format. */
export function parseBytes(text: string, format: Format, what: string): Uint8Array {
  switch (format) {
    case 'utf8':
      return Buffer.from(text, 'utf8')
    case 'hex': {
      const t = text.startsWith('0x') ? text.slice(2) : text
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(t)) throw new UsageError(`${what} is not valid hex (an even number of 0-9a-f digits): ${JSON.stringify(text)}`)
      return Buffer.from(t, 'hex')
    }
    case 'base64':
      if (!BASE64.test(text)) throw new UsageError(`${what} is not valid base64: ${JSON.stringify(text)}`)
      return Buffer.from(text, 'base64')
    case 'json': {
      let v: unknown
      try {
        v = JSON.parse(text)
      } catch {
        throw new UsageError(`${what} is not valid JSON: ${JSON.stringify(text)}`)
      }
      // The same bytes the engine's 'json' encoding stores.
      return Buffer.from(JSON.stringify(v), 'utf8')
    }
  }
}

/** UTF-8 text of the bytes if they are valid UTF-8 (byte-exact round trip), else undefined. */
export function utf8IfValid(b: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(b)
  } catch {
    return undefined
  }
}

/** The JSON value the bytes hold if they are exactly its canonical JSON text, else undefined. */
export function jsonIfCanonical(b: Uint8Array): { value: unknown } | undefined {
  const s = utf8IfValid(b)
  if (s === undefined) return undefined
  try {
    const value: unknown = JSON.parse(s)
    return JSON.stringify(value) === s ? { value } : undefined
  } catch {
    return undefined
  }
}

/** Bytes to printable text under a format. 'json' prints the JSON text compactly. */
export function formatBytes(b: Uint8Array, format: Format, what: string): string {
  switch (format) {
    case 'utf8':
      return looseUtf8.decode(b)
    case 'hex':
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
    case 'base64':
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
    case 'json': {
      const s = utf8IfValid(b)
      if (s !== undefined) {
        try {
          return JSON.stringify(JSON.parse(s))
        } catch {
          // fall through
        }
      }
      throw new CliFailure('ERR_NOT_JSON', `${what} is not JSON text; use --format utf8, hex or base64`)
    }
  }
}

/** Bytes as a field of --json output: the JSON value itself under 'json', else formatBytes' string. */
export function jsonField(b: Uint8Array, format: Format, what: string): unknown {
  return format === 'json' ? JSON.parse(formatBytes(b, format, what)) : formatBytes(b, format, what)
}

// ---------------------------------------------------------------- options

export interface CommonOptions {
  json?: boolean
  format?: Format
  keyFormat?: Format
  valueFormat?: Format
}

/** --json and the formats, on one command. */
export function addCommonOptions(cmd: Command, defaultFormat: Format = 'utf8'): Command {
  return cmd
    .option('--json', 'machine-readable output (JSON) on stdout, errors as {"error":{"code","message"}}')
    .option('--format <format>', `encoding of keys and values, in and out: ${FORMATS.join('|')}`, parseFormat, defaultFormat)
    .option('--key-format <format>', 'encoding of keys only (overrides --format)', parseFormat)
    .option('--value-format <format>', 'encoding of values only (overrides --format)', parseFormat)
}

export function keyFormat(o: CommonOptions): Format {
  return o.keyFormat ?? o.format ?? 'utf8'
}

export function valueFormat(o: CommonOptions): Format {
  return o.valueFormat ?? o.format ?? 'utf8'
}

/** Option parser for a version number (--at, --to, --gte...). */
export function versionArg(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('must be a version: a non-negative integer')
  }
  return Number(value)
}

/** Option parser for a count (--limit, --batch...). */
export function countArg(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('must be a non-negative integer')
  }
  return Number(value)
}

/** Option parser for a positive count. */
export function positiveArg(value: string): number {
  const n = countArg(value)
  if (n === 0) throw new InvalidArgumentError('must be a positive integer')
  return n
}

// ---------------------------------------------------------------- output

/** Buffered stdout that waits for 'drain', so a large scan or dump streams in bounded memory. */
export class Output {
  private parts: string[] = []
  private size = 0

  async write(s: string): Promise<void> {
    this.parts.push(s)
    this.size += s.length
    if (this.size >= 64 << 10) await this.flush()
  }

  async line(s: string): Promise<void> {
    await this.write(s + '\n')
  }

  async flush(): Promise<void> {
    if (this.size === 0) return
    const data = this.parts.join('')
    this.parts = []
    this.size = 0
    if (!process.stdout.write(data)) await once(process.stdout, 'drain')
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n')
}

/** A diagnostic line on stderr. */
export function note(message: string): void {
  process.stderr.write(message + '\n')
}

// ---------------------------------------------------------------- errors

interface ErrorReport {
  code: string
  message: string
  exitCode: number
}

function classify(e: unknown): ErrorReport {
  if (isCambiumError(e)) {
    return { code: e.code, message: e.message, exitCode: e.code === 'ERR_LOCKED' ? EXIT_LOCKED : EXIT_FAILURE }
  }
  if (e instanceof UsageError) return { code: e.code, message: e.message, exitCode: EXIT_USAGE }
  if (e instanceof CliFailure) return { code: e.code, message: e.message, exitCode: e.exitCode }
  const message = e instanceof Error ? e.message : String(e)
  const errno = (e as { code?: unknown } | null)?.code
  if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) return { code: 'ERR_IO', message, exitCode: EXIT_FAILURE }
  return { code: 'ERR_INTERNAL', message, exitCode: EXIT_FAILURE }
}

/** Prints an error (JSON on stdout with --json, always a line on stderr) and sets the exit code. */
export function reportError(command: string, e: unknown, json: boolean): void {
  const r = classify(e)
  if (json) printJson({ error: { code: r.code, message: r.message } })
  process.stderr.write(`${paint('red', `cambium ${command}:`, process.stderr)} ${r.code}: ${r.message}\n`)
  if (r.code === 'ERR_INTERNAL' && process.env['CAMBIUM_DEBUG'] && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n')
  process.exitCode = r.exitCode
}

/**
 * Wraps a command's action: errors are printed (never a stack trace) and set the exit code.
 * The action gets its positional arguments and its options.
 */
export function action<O extends CommonOptions>(
  fn: (args: string[], opts: O, cmd: Command) => Promise<void> | void,
): (...args: unknown[]) => Promise<void> {
  return async (...all: unknown[]) => {
    const cmd = all[all.length - 1] as Command
    const opts = cmd.opts<O>()
    try {
      await fn(all.slice(0, -2) as string[], opts, cmd)
    } catch (e) {
      reportError(cmd.name(), e, opts.json === true)
    }
  }
}

export { CambiumError }
