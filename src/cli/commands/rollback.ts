/** `cambium rollback <file> --to <version>`: a new commit whose contents equal that version's. */
import type { Command } from 'commander'
import { action, addCommonOptions, printJson, versionArg, type CommonOptions } from '../common.js'
import { openForWrite, withDb } from '../db.js'

interface Options extends CommonOptions {
  to: number
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('rollback')
      .description('append a commit whose contents equal an earlier version (nothing is destroyed); prints the new version')
      .argument('<file>', 'database file')
      .requiredOption('--to <version>', 'the version to restore', versionArg),
  ).action(
    action<Options>(async ([file], o) => {
      await withDb(openForWrite(file!, false), (db) => {
        const version = db.rollback(o.to)
        if (o.json) printJson({ version, rollbackOf: o.to })
        else process.stdout.write(`${version}\n`)
      })
    }),
  )
}
