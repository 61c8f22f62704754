/**
 * `cambium load <file>`: reads JSON Lines (as written by `cambium dump`) from stdin or
 * --input and puts every entry, in batches of --batch entries per commit. Creates the file
 * if needed. The formats are the dump header's, unless --format/--key-format/--value-format
 * are given; without a header, base64.
 */
import { createReadStream, existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Command } from 'commander'
import { MAX_KEY_SIZE, type BatchOp, type Database } from '../../index.js'
import { action, addCommonOptions, CliFailure, FORMATS, parseBytes, positiveArg, printJson, type CommonOptions, type Format } from '../common.js'
import { openForWrite, withDb } from '../db.js'

interface Options extends CommonOptions {
  input?: string
  batch: number
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('load')
      .description('put the entries of a dump (JSON Lines on stdin or --input) into the database, creating it if needed')
      .argument('<file>', 'database file')
      .option('--input <path>', 'read the dump from this file instead of stdin')
      .option('--batch <n>', 'entries per commit', positiveArg, 1000),
    'base64',
  ).action(
    action<Options>(async ([file], o, cmd) => {
      const explicit = (name: string): Format | undefined =>
        cmd.getOptionValueSource(name) === 'cli' ? (cmd.getOptionValue(name) as Format) : undefined
      const flagKey = explicit('keyFormat') ?? explicit('format')
      const flagValue = explicit('valueFormat') ?? explicit('format')
      if (o.input !== undefined && !existsSync(o.input)) throw new CliFailure('ERR_NOT_FOUND', `${o.input}: no such input file`)
      const input = o.input === undefined ? process.stdin : createReadStream(o.input)
      if (o.input === undefined && process.stdin.isTTY) process.stderr.write('reading JSON Lines from stdin (end with Ctrl-D)...\n')
      const lines = createInterface({ input, crlfDelay: Infinity })
      await withDb(openForWrite(file!, true), async (db) => {
        const state = { entries: 0, commits: 0, first: undefined as number | undefined }
        let kf: Format = flagKey ?? 'base64'
        let vf: Format = flagValue ?? 'base64'
        let ops: BatchOp<Buffer, Buffer>[] = []
        let n = 0
        const commit = (): void => {
          if (ops.length === 0) return
          const v = db.batch(ops)
          state.first ??= v
          state.commits++
          state.entries += ops.length
          ops = []
        }
        try {
          for await (const text of lines) {
            n++
            if (text.trim() === '') continue
            let obj: unknown
            try {
              obj = JSON.parse(text)
            } catch {
              throw new CliFailure('ERR_BAD_INPUT', `line ${n}: not JSON`)
            }
            if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new CliFailure('ERR_BAD_INPUT', `line ${n}: expected a JSON object`)
            const rec = obj as Record<string, unknown>
            if ('cambium' in rec) {
              if (rec['cambium'] !== 1) throw new CliFailure('ERR_BAD_INPUT', `line ${n}: dump format ${JSON.stringify(rec['cambium'])}; this build reads dump format 1`)
              kf = flagKey ?? headerFormat(rec['keyFormat'], n)
              vf = flagValue ?? headerFormat(rec['valueFormat'], n)
              continue
            }
            const key = field(rec, 'key', kf, n)
            if (key.length === 0 || key.length > MAX_KEY_SIZE) throw new CliFailure('ERR_BAD_INPUT', `line ${n}: a key must be 1 to ${MAX_KEY_SIZE} bytes, this one is ${key.length}`)
            ops.push({ type: 'put', key, value: field(rec, 'value', vf, n) })
            if (ops.length >= o.batch) commit()
          }
          commit()
        } catch (e) {
          if (state.commits > 0 && e instanceof Error) {
            e.message += ` (${state.entries} entries before it were loaded, up to version ${db.version})`
          }
          throw e
        }
        report(db, state, file!, o)
      })
    }),
  )
}

function report(db: Database, s: { entries: number; commits: number; first: number | undefined }, file: string, o: Options): void {
  if (o.json) {
    printJson({ entries: s.entries, commits: s.commits, firstVersion: s.first ?? null, version: db.version })
    return
  }
  const versions = s.first === undefined ? 'no new version' : s.first === db.version ? `version ${db.version}` : `versions ${s.first} to ${db.version}`
  process.stdout.write(`loaded ${s.entries} entries into ${file} in ${s.commits} commit${s.commits === 1 ? '' : 's'} (${versions})\n`)
}

function headerFormat(f: unknown, line: number): Format {
  if (f === undefined) return 'base64'
  if (typeof f !== 'string' || !(FORMATS as readonly string[]).includes(f)) {
    throw new CliFailure('ERR_BAD_INPUT', `line ${line}: unknown format ${JSON.stringify(f)} in the dump header`)
  }
  return f as Format
}

function field(rec: Record<string, unknown>, name: string, f: Format, line: number): Buffer {
  const b64 = rec[name + 'Base64']
  if (typeof b64 === 'string') return Buffer.from(parseBytes(b64, 'base64', `line ${line}: ${name}Base64`))
  if (!(name in rec)) throw new CliFailure('ERR_BAD_INPUT', `line ${line}: no "${name}" (nor "${name}Base64")`)
  const v = rec[name]
  if (f === 'json') return Buffer.from(JSON.stringify(v), 'utf8')
  if (typeof v !== 'string') throw new CliFailure('ERR_BAD_INPUT', `line ${line}: "${name}" must be a string in format ${f}`)
  try {
    return Buffer.from(parseBytes(v, f, `"${name}"`))
  } catch (e) {
    throw new CliFailure('ERR_BAD_INPUT', `line ${line}: ${e instanceof Error ? e.message : String(e)}`)
  }
}
