#!/usr/bin/env node
/**
 * The `cambium` command-line tool. Each command lives in src/cli/commands/<name>.ts and
 * exports `register(program)`; COMMANDS below lists them (adding one is one line).
 *
 * Exit codes: 0 success (including --help and --version), 1 failure (damage found, absent
 * key, engine error), 2 usage error, 3 locked by another writer (ERR_LOCKED).
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { EXIT_OK, EXIT_USAGE, printJson } from './common.js'

/** The commands, in the order `cambium --help` lists them. */
const COMMANDS = [
  'inspect',
  'check',
  'log',
  'get',
  'scan',
  'put',
  'del',
  'rollback',
  'dump',
  'load',
  'compact',
]

function packageVersion(): string {
  // dist/cli/main.js (and src/cli/main.ts) sit two levels below package.json.
  const url = new URL('../../package.json', import.meta.url)
  const pkg = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown }
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
}

const wantsJson = process.argv.includes('--json')

// `cambium scan ... | head`: a closed pipe ends the output, not with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK)
  throw e
})

const program = new Command()
  .name('cambium')
  .description('Inspect and maintain cambium database files (single-file, append-only, copy-on-write B+tree).')
  .version(packageVersion(), '-V, --version', 'print the version and exit')
  .helpOption('-h, --help', 'print this help and exit')
  .showHelpAfterError('(run "cambium --help" for usage)')
  .configureOutput({
    outputError(str, write) {
      write(str)
      if (wantsJson) printJson({ error: { code: 'ERR_USAGE', message: str.trim().replace(/^error: /, '') } })
    },
  })
  .exitOverride((err: CommanderError) => {
    // --help / --version report exitCode 0; every other commander error is a usage error.
    process.exit(err.exitCode === 0 ? EXIT_OK : EXIT_USAGE)
  })

for (const name of COMMANDS) {
  const mod = (await import(`./commands/${name}.js`)) as { register(program: Command): void }
  mod.register(program)
}

await program.parseAsync(process.argv)
