#!/usr/bin/env node
/**
 * The `cambium` command-line tool. For now only the program shell: --help and
 * --version. The engine commands are added later; this file deliberately does
 * not import the engine yet.
 *
 * Exit codes: 0 success (including --help and --version), 2 usage error.
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'

/** Exit code for a command-line usage error (unknown option, bad argument...). */
const EXIT_USAGE = 2

function packageVersion(): string {
  // dist/cli/main.js (and src/cli/main.ts) sit two levels below package.json.
  const url = new URL('../../package.json', import.meta.url)
  const pkg = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown }
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
}

const program = new Command()
  .name('cambium')
  .description(
    'Inspect and maintain cambium database files (single-file, append-only, copy-on-write B+tree).\n' +
      'The full command set (inspect, check, log, get, scan, dump, load, compact, rollback) comes later.',
  )
  .version(packageVersion(), '-V, --version', 'print the version and exit')
  .helpOption('-h, --help', 'print this help and exit')
  .showHelpAfterError('(run "cambium --help" for usage)')
  // No subcommands yet: a bare `cambium` prints the help on stderr as a usage error.
  .action(() => {
    program.help({ error: true })
  })
  .exitOverride((err: CommanderError) => {
    // --help / --version report exitCode 0; every other commander error is a usage error.
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE)
  })

program.parse(process.argv)
