/**
 * `cambium compact <file> [--keep ...]`: rewrites the versions to keep into a fresh file and
 * swaps it in atomically. A progress bar on stderr when stderr is a terminal; the summary
 * `X -> Y bytes` on stdout.
 */
import { SingleBar } from 'cli-progress'
import { InvalidArgumentError, type Command } from 'commander'
import type { CompactProgress, KeepPolicy } from '../../index.js'
import { action, addCommonOptions, printJson, type CommonOptions } from '../common.js'
import { openForWrite, withDb } from '../db.js'

interface Options extends CommonOptions {
  keep: KeepPolicy
  progress?: boolean
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** 'latest' | 'all' | 'since:<version>' | 'since:<ISO date>' | 'every:<n>[ms|s|m|h|d]' */
export function parseKeepArg(value: string): KeepPolicy {
  if (value === 'latest' || value === 'all') return value
  const since = /^since:(.+)$/.exec(value)
  if (since) {
    const s = since[1]!
    if (/^\d+$/.test(s)) return { since: Number(s) }
    const d = new Date(s)
    if (!Number.isNaN(d.getTime())) return { since: d }
  }
  const every = /^every:(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value)
  if (every && Number(every[1]) > 0) return { every: Number(every[1]) * UNITS[every[2] ?? 'ms']! }
  throw new InvalidArgumentError("must be latest, all, since:<version>, since:<ISO date> or every:<n>[ms|s|m|h|d]")
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('compact')
      .description('rewrite the versions to keep into a fresh file and swap it in atomically; prints "X -> Y bytes"')
      .argument('<file>', 'database file')
      .option('--keep <policy>', 'versions to keep: latest, all, since:<version>, since:<ISO date>, every:<n>[ms|s|m|h|d]', parseKeepArg, 'latest' as KeepPolicy)
      .option('--no-progress', 'no progress bar on stderr'),
  ).action(
    action<Options>(async ([file], o) => {
      await withDb(openForWrite(file!, false), async (db) => {
        const showBar = o.progress !== false && !o.json && process.stderr.isTTY === true
        const total = db.internals.store.end
        const bar = showBar ? new SingleBar({ format: 'compacting [{bar}] {percentage}% | {written} written | {versions} versions', stream: process.stderr, hideCursor: true }) : undefined
        bar?.start(total, 0, { written: mib(0), versions: 0 })
        const onProgress = (p: CompactProgress): void => {
          bar?.update(Math.min(total, p.bytesWritten), { written: mib(p.bytesWritten), versions: p.versionsCopied })
        }
        let r
        try {
          // In slices, so the bar's timer gets to draw between them.
          r = await db.compactAsync({ keep: o.keep, onProgress, sliceMs: 50 })
        } finally {
          bar?.stop()
        }
        if (o.json) {
          printJson(r)
          return
        }
        const gain = r.bytesAfter > 0 ? (r.bytesBefore / r.bytesAfter).toFixed(2) : '-'
        process.stdout.write(
          `${r.bytesBefore} -> ${r.bytesAfter} bytes (${gain}x smaller), kept ${r.versionsKept} version${r.versionsKept === 1 ? '' : 's'} ` +
            `(${r.firstVersion}..${r.lastVersion}) in ${(r.ms / 1000).toFixed(2)} s\n`,
        )
      })
    }),
  )
}
