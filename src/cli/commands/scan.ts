/** `cambium scan <file>`: key<TAB>value lines in key order, with bounds, prefix, reverse, limit. */
import type { Command } from 'commander'
import type { RangeOptions } from '../../index.js'
import { action, addCommonOptions, countArg, formatBytes, jsonField, keyFormat, Output, parseBytes, valueFormat, versionArg, type CommonOptions } from '../common.js'
import { openForRead, viewAt, withDb } from '../db.js'

interface Options extends CommonOptions {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  prefix?: string
  reverse?: boolean
  limit?: number
  at?: number
  keysOnly?: boolean
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('scan')
      .description('print entries in key order as key<TAB>value lines (read-only)')
      .argument('<file>', 'database file')
      .option('--gt <key>', 'keys above this one')
      .option('--gte <key>', 'keys from this one on')
      .option('--lt <key>', 'keys below this one')
      .option('--lte <key>', 'keys up to this one')
      .option('--prefix <key>', 'keys starting with these bytes')
      .option('--reverse', 'in descending key order')
      .option('--limit <n>', 'at most n entries', countArg)
      .option('--at <version>', 'read this version instead of the latest', versionArg)
      .option('--keys-only', 'print keys only'),
  ).action(
    action<Options>(async ([file], o) => {
      const kf = keyFormat(o)
      const vf = valueFormat(o)
      const range: RangeOptions<Uint8Array> = { reverse: o.reverse === true }
      for (const name of ['gt', 'gte', 'lt', 'lte', 'prefix'] as const) {
        const text = o[name]
        if (text !== undefined) range[name] = parseBytes(text, kf, `--${name}`)
      }
      if (o.limit !== undefined) range.limit = o.limit
      await withDb(openForRead(file!), async (db) => {
        const view = viewAt(db, o.at)
        const out = new Output()
        try {
          if (o.keysOnly) {
            for (const k of view.keys(range)) {
              await out.line(o.json ? JSON.stringify({ key: jsonField(k, kf, 'a key') }) : formatBytes(k, kf, 'a key'))
            }
          } else {
            for (const [k, v] of view.range(range)) {
              const key = formatBytes(k, kf, 'a key')
              const what = `the value of ${key}`
              await out.line(o.json ? JSON.stringify({ key: jsonField(k, kf, 'a key'), value: jsonField(v, vf, what) }) : `${key}\t${formatBytes(v, vf, what)}`)
            }
          }
        } finally {
          // What was found before an error is still printed.
          await out.flush()
        }
      })
    }),
  )
}
