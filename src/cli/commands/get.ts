/** `cambium get <file> <key> [--at v]`: prints the value; exit 1 if the key is absent. */
import type { Command } from 'commander'
import { action, addCommonOptions, CliFailure, formatBytes, jsonField, keyFormat, parseBytes, printJson, valueFormat, versionArg, type CommonOptions } from '../common.js'
import { openForRead, viewAt, withDb } from '../db.js'

interface Options extends CommonOptions {
  at?: number
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('get')
      .description('print the value stored under a key (read-only)')
      .argument('<file>', 'database file')
      .argument('<key>', 'the key, in --format (or --key-format)')
      .option('--at <version>', 'read this version instead of the latest', versionArg),
  ).action(
    action<Options>(async ([file, keyText], o) => {
      const key = parseBytes(keyText!, keyFormat(o), 'the key')
      await withDb(openForRead(file!), (db) => {
        const view = viewAt(db, o.at)
        const v = view.get(key)
        if (v === undefined) {
          throw new CliFailure('ERR_KEY_NOT_FOUND', `key ${JSON.stringify(keyText)} not found at version ${view.version}`)
        }
        if (o.json) printJson({ key: jsonField(key, keyFormat(o), 'the key'), value: jsonField(v, valueFormat(o), 'the value'), version: view.version })
        else process.stdout.write(formatBytes(v, valueFormat(o), 'the value') + '\n')
      })
    }),
  )
}
