/** `cambium check <file> [--all-versions]`: prints OK (exit 0) or "N errors found" and one line per error (exit 1). */
import type { Command } from 'commander'
import { checkDatabase, type CheckProblem } from '../../check/index.js'
import { action, addCommonOptions, EXIT_FAILURE, paint, positiveArg, printJson, type CommonOptions } from '../common.js'

interface Options extends CommonOptions {
  allVersions?: boolean
  maxErrors?: number
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('check')
      .description('verify the whole file: header, commit chain, every node and value of the latest version (or of all), every record (read-only)')
      .argument('<file>', 'database file')
      .option('--all-versions', 'check the tree of every version, not only the latest (shared nodes are read once)')
      .option('--max-errors <n>', 'stop listing errors after n', positiveArg, 10_000),
  ).action(
    action<Options>((args, o) => {
      const r = checkDatabase(args[0]!, { allVersions: o.allVersions === true, maxErrors: o.maxErrors })
      if (!r.ok) process.exitCode = EXIT_FAILURE
      if (o.json) {
        printJson(r)
        return
      }
      const lines: string[] = []
      const n = r.errors.length + r.errorsOmitted
      if (r.ok) lines.push(paint('green', 'OK'))
      else lines.push(paint('red', `${n} error${n === 1 ? '' : 's'} found`))
      for (const e of r.errors) lines.push(`  ${problemLine(e)}`)
      if (r.errorsOmitted > 0) lines.push(`  ... and ${r.errorsOmitted} more`)
      for (const w of r.warnings) lines.push(`${paint('yellow', 'warning:')} ${problemLine(w)}`)
      process.stdout.write(lines.join('\n') + '\n')
      const versions = r.version === undefined ? 'no valid version' : `latest version ${r.version}`
      process.stderr.write(
        `checked ${versions}: ${r.versionsChecked} version tree${r.versionsChecked === 1 ? '' : 's'}, ${r.commitsChecked} commits, ` +
          `${r.nodesChecked} nodes, ${r.valuesChecked} values, ${r.recordsChecked} records in ${r.fileSize} bytes\n`,
      )
    }),
  )
}

function problemLine(p: CheckProblem): string {
  const where = [p.offset !== undefined ? `offset ${p.offset}` : undefined, p.version !== undefined ? `version ${p.version}` : undefined].filter(Boolean).join(', ')
  return `${where ? `[${where}] ` : ''}${p.kind}: ${p.message}`
}
