/**
 * `cambium dump <file> [--at v]`: JSON Lines on stdout. The first line is a header
 *   {"cambium":1,"version":v,"time":"...","entries":n,"keyFormat":"base64","valueFormat":"base64"}
 * then one {"key":...,"value":...} per entry in key order. Keys and values are strings in
 * the header's formats (base64 by default). With --format utf8 (or json), a key or value
 * that is not valid UTF-8 (or not canonical JSON text) is written as "keyBase64"/"valueBase64"
 * instead, so `cambium load` always restores the exact bytes.
 */
import type { Command } from 'commander'
import { action, addCommonOptions, jsonIfCanonical, keyFormat, Output, utf8IfValid, valueFormat, versionArg, type CommonOptions, type Format } from '../common.js'
import { openForRead, viewAt, withDb } from '../db.js'

interface Options extends CommonOptions {
  at?: number
}

export const DUMP_FORMAT_VERSION = 1

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('dump')
      .description('write every entry of a version as JSON Lines to stdout, for `cambium load` (read-only)')
      .argument('<file>', 'database file')
      .option('--at <version>', 'dump this version instead of the latest', versionArg),
    'base64',
  ).action(
    action<Options>(async ([file], o) => {
      const kf = keyFormat(o)
      const vf = valueFormat(o)
      await withDb(openForRead(file!), async (db) => {
        const view = viewAt(db, o.at)
        const out = new Output()
        const time = 'time' in view ? view.time : [...db.history({ lte: view.version, reverse: true, limit: 1 })][0]?.time
        await out.line(
          JSON.stringify({ cambium: DUMP_FORMAT_VERSION, version: view.version, time: time?.toISOString(), entries: view.count(), keyFormat: kf, valueFormat: vf }),
        )
        try {
          for (const [k, v] of view.range()) {
            const entry: Record<string, unknown> = {}
            field(entry, 'key', k, kf)
            field(entry, 'value', v, vf)
            await out.line(JSON.stringify(entry))
          }
        } finally {
          await out.flush()
        }
      })
    }),
  )
}

function field(entry: Record<string, unknown>, name: string, b: Buffer, f: Format): void {
  if (f === 'base64') entry[name] = b.toString('base64')
  else if (f === 'hex') entry[name] = b.toString('hex')
  else if (f === 'utf8') {
    const s = utf8IfValid(b)
    if (s !== undefined) entry[name] = s
    else entry[name + 'Base64'] = b.toString('base64')
  } else {
    const j = jsonIfCanonical(b)
    if (j !== undefined) entry[name] = j.value
    else entry[name + 'Base64'] = b.toString('base64')
  }
}
