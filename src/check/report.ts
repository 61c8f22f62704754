/**
 * Problems found by the checker, collected instead of thrown: a damaged file must yield a
 * list of everything wrong with it, not the first exception.
 */

/** What part of the file a problem is about. */
export type ProblemKind =
  /** the 64-byte file header */
  | 'header'
  /** a commit record or the chain of prev/skip links between them */
  | 'commit'
  /** a leaf or branch record, or the tree rules between nodes */
  | 'node'
  /** an out-of-line value record */
  | 'value'
  /** the walk over every record of the file (framing, checksums, tiling) */
  | 'record'
  /** bytes after the last valid commit */
  | 'tail'
  /** the file as a whole (not a database, unsupported version, unreadable) */
  | 'file'

export interface CheckProblem {
  kind: ProblemKind
  /** byte offset in the file the problem is about, when there is one */
  offset?: number
  /** the version whose tree or commit the problem was found in, when there is one */
  version?: number
  message: string
}

/** Default cap on recorded errors: a file full of garbage must not fill memory with reports. */
export const DEFAULT_MAX_ERRORS = 10_000

export class Reporter {
  readonly errors: CheckProblem[] = []
  readonly warnings: CheckProblem[] = []
  /** errors found beyond maxErrors, counted only */
  omitted = 0
  private readonly offsets = new Set<number>()

  constructor(private readonly maxErrors = DEFAULT_MAX_ERRORS) {}

  error(kind: ProblemKind, message: string, offset?: number, version?: number): void {
    if (offset !== undefined) this.offsets.add(offset)
    if (this.errors.length >= this.maxErrors) {
      this.omitted++
      return
    }
    const p: CheckProblem = { kind, message }
    if (offset !== undefined) p.offset = offset
    if (version !== undefined) p.version = version
    this.errors.push(p)
  }

  warning(kind: ProblemKind, message: string, offset?: number, version?: number): void {
    const p: CheckProblem = { kind, message }
    if (offset !== undefined) p.offset = offset
    if (version !== undefined) p.version = version
    this.warnings.push(p)
  }

  /** Whether an error was already reported at this offset (later passes skip duplicates). */
  hasErrorAt(offset: number): boolean {
    return this.offsets.has(offset)
  }

  get errorCount(): number {
    return this.errors.length + this.omitted
  }
}

export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0')
}

export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code
    return typeof code === 'string' && !e.message.includes(code) ? `${code}: ${e.message}` : e.message
  }
  return String(e)
}
