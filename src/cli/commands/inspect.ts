/** `cambium inspect <file>`: what the file holds and how much of it is live. */
import type { Command } from 'commander'
import { inspectDatabase, type InspectReport, type SizedKey } from '../../check/index.js'
import { action, addCommonOptions, CliFailure, formatBytes, jsonField, keyFormat, positiveArg, printJson, type CommonOptions, type Format } from '../common.js'
import { cut, fieldTable, gridTable, num, pct } from '../table.js'

interface Options extends CommonOptions {
  nodeSize?: number
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command('inspect')
      .description('report versions, live and dead bytes, tree shape and the largest keys and values (read-only)')
      .argument('<file>', 'database file')
      .option('--node-size <bytes>', 'node size the fill is measured against', positiveArg, 1024),
  ).action(
    action<Options>((args, o) => {
      const file = args[0]!
      const r = inspectDatabase(file, { nodeSize: o.nodeSize ?? 1024 })
      const kf = keyFormat(o)
      if (o.json) printJson(toJson(r, kf))
      else process.stdout.write(human(r, kf) + '\n')
      if (r.problems.length > 0) {
        throw new CliFailure('ERR_CORRUPT', `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} met while walking the tree, the first at offset ${r.problems[0]!.offset}: ${r.problems[0]!.message}; run "cambium check ${file}"`)
      }
    }),
  )
}

function sized(list: SizedKey[], kf: Format): { size: number; key: unknown }[] {
  return list.map((s) => ({ size: s.size, key: jsonField(s.key, kf, 'a key') }))
}

function toJson(r: InspectReport, kf: Format): unknown {
  return { ...r, largestKeys: sized(r.largestKeys, kf), largestValues: sized(r.largestValues, kf) }
}

function human(r: InspectReport, kf: Format): string {
  const bytes = (n: number): string => `${num(n)} bytes`
  const rows: [string, string][] = [
    ['file', r.path],
    ['file size', bytes(r.fileSize)],
    ['format', `read version ${r.header.readVersion}, write version ${r.header.writeVersion}`],
    ['created', r.header.createdAt.toISOString()],
    ...(r.header.baseSize > 0 ? [['compacted', `written by compaction, ${bytes(r.header.baseSize)} then`] as [string, string]] : []),
    ['versions', `${r.versions.first} to ${r.versions.last} (${num(r.versions.count)} commits)`],
    ['latest commit', `v${r.latest.version} at ${r.latest.time.toISOString()}${r.latest.rollbackOf !== undefined ? `, rollback of v${r.latest.rollbackOf}` : ''}`],
    ['entries', num(r.entries)],
    ['live bytes', `${bytes(r.liveBytes)} (${pct(r.fileSize ? r.liveBytes / r.fileSize : 0)} of the file)`],
    ['dead bytes', `${bytes(r.deadBytes)} (dead ratio ${pct(r.deadRatio)}: old versions, freed by compaction)`],
    ['tree height', String(r.treeHeight)],
    ['leaves', `${num(r.nodes.leaves)} (${bytes(r.nodes.leafBytes)}, ${r.nodes.avgLeafEntries.toFixed(1)} entries each on average)`],
    ['branches', `${num(r.nodes.branches)} (${bytes(r.nodes.branchBytes)}, ${r.nodes.avgBranchChildren.toFixed(1)} children each on average)`],
    ['average node fill', `${pct(r.nodes.avgFill)} of ${num(r.nodes.nodeSize)}-byte nodes`],
    ['keys', bytes(r.keyBytes)],
    ['values', `${num(r.values.inline)} inline (${bytes(r.values.inlineBytes)}), ${num(r.values.outOfLine)} out of line (${bytes(r.values.outOfLineBytes)} with framing)`],
    ['torn tail', bytes(r.tornBytes)],
  ]
  const top = (title: string, list: SizedKey[]): string =>
    list.length === 0
      ? ''
      : `\n${title}\n` + gridTable(['#', 'bytes', 'key'], list.map((s, i) => [String(i + 1), num(s.size), cut(formatBytes(s.key, kf, 'key'))]), ['right', 'right', 'left'])
  return fieldTable(rows) + top('largest keys', r.largestKeys) + top('largest values', r.largestValues)
}
