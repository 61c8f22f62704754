/** `cambium log <file>`: one line per commit: version, time, entries, bytes (and rollbacks). */
import type { Command } from 'commander'
import type { CommitInfo } from '../../index.js'
import { action, addCommonOptions, countArg, Output, paint, versionArg, type CommonOptions } from '../common.js'
import { openForRead, withDb } from '../db.js'

interface Options extends CommonOptions {
  gte?: number
  lte?: number
  reverse?: boolean
  limit?: number
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('log')
      .description('list the commits, oldest first: version, time, entries, bytes appended (read-only)')
      .argument('<file>', 'database file')
      .option('--gte <version>', 'from this version on', versionArg)
      .option('--lte <version>', 'up to this version', versionArg)
      .option('--reverse', 'newest first')
      .option('--limit <n>', 'at most n commits', countArg),
  ).action(
    action<Options>(async (args, o) => {
      await withDb(openForRead(args[0]!), async (db) => {
        const out = new Output()
        const width = String(db.version).length + 1
        for (const c of db.history({ gte: o.gte, lte: o.lte, reverse: o.reverse === true, limit: o.limit })) {
          if (o.json) await out.line(JSON.stringify(toJson(c)))
          else await out.line(line(c, width))
        }
        await out.flush()
      })
    }),
  )
}

function toJson(c: CommitInfo): object {
  return { version: c.version, time: c.time.toISOString(), entries: c.entries, bytes: c.bytes, treeBytes: c.treeBytes, rollbackOf: c.rollbackOf ?? null }
}

function line(c: CommitInfo, width: number): string {
  const parts = [
    paint('bold', `v${c.version}`.padEnd(width)),
    c.time.toISOString(),
    `${c.entries} ${c.entries === 1 ? 'entry' : 'entries'}`.padStart(14),
    `${c.bytes} bytes`.padStart(14),
  ]
  if (c.rollbackOf !== undefined) parts.push(paint('yellow', `rollback of v${c.rollbackOf}`))
  return parts.join('  ')
}
