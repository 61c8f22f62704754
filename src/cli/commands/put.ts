/** `cambium put <file> <key> <value>`: stores the value in one commit and prints the new version. */
import type { Command } from 'commander'
import { action, addCommonOptions, keyFormat, parseBytes, printJson, valueFormat, type CommonOptions } from '../common.js'
import { openForWrite, withDb } from '../db.js'

interface Options extends CommonOptions {
  create?: boolean
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('put')
      .description('store a value under a key (one commit); prints the new version')
      .argument('<file>', 'database file')
      .argument('<key>', 'the key, in --format (or --key-format)')
      .argument('<value>', 'the value, in --format (or --value-format)')
      .option('--create', 'create the database file if it does not exist'),
  ).action(
    action<Options>(async ([file, keyText, valueText], o) => {
      const key = parseBytes(keyText!, keyFormat(o), 'the key')
      const value = parseBytes(valueText!, valueFormat(o), 'the value')
      await withDb(openForWrite(file!, o.create === true, 'add --create to create it'), (db) => {
        const version = db.put(key, value)
        if (o.json) printJson({ version })
        else process.stdout.write(`${version}\n`)
      })
    }),
  )
}
