/** `cambium del <file> <key>`: deletes the key in one commit and prints the new version. */
import type { Command } from 'commander'
import { action, addCommonOptions, keyFormat, parseBytes, printJson, type CommonOptions } from '../common.js'
import { openForWrite, withDb } from '../db.js'

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('del')
      .description('delete a key (one commit, made even if the key was absent); prints the new version')
      .argument('<file>', 'database file')
      .argument('<key>', 'the key, in --format (or --key-format)'),
  ).action(
    action<CommonOptions>(async ([file, keyText], o) => {
      const key = parseBytes(keyText!, keyFormat(o), 'the key')
      await withDb(openForWrite(file!, false), (db) => {
        const existed = db.has(key)
        const version = db.delete(key)
        if (o.json) printJson({ version, deleted: existed })
        else process.stdout.write(`${version}\n`)
        if (!existed) process.stderr.write(`note: key ${JSON.stringify(keyText)} was not present\n`)
      })
    }),
  )
}
