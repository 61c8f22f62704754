/** Open options: defaults and validation (misuse is a TypeError/RangeError that says the fix). */
import { DEFAULT_NODE_SIZE } from '../format/constants.js'
import type { FileIO } from '../io/file-io.js'
import { parseKeep, type KeepPolicy } from './compaction.js'
import { ENCODINGS, type EncodingName } from './encoding.js'

export type Durability = 'full' | 'none'

export interface AutoCompactOptions {
  /** compact when more than this share of the file is dead (default 0.5: the file stays within ~2x live) */
  ratio?: number
  /** ...and the file is at least this big (default 64 MiB) */
  minSize?: number
  /** versions to keep (default 'latest') */
  keep?: KeepPolicy
}

export interface OpenOptions<KE extends EncodingName = EncodingName, VE extends EncodingName = EncodingName> {
  /** Create the file if it does not exist (default true; ignored with readOnly). */
  create?: boolean
  /** Open without the writer lock; writes throw ERR_READ_ONLY; see refresh(). */
  readOnly?: boolean
  /** 'full' (default): a commit returns once it is on disk. 'none': no fsync per commit. */
  durability?: Durability
  /** Bytes of nodes kept in memory, packed (default 64 MiB). */
  cacheSize?: number
  keyEncoding?: KE
  valueEncoding?: VE
  /** Target size in bytes of a node record (512..65536, default 1024). */
  nodeSize?: number
  /** Compact in the background (compactAsync) when dead bytes pass a share of the file. */
  autoCompact?: boolean | AutoCompactOptions
  /**
   * Bytes of zeros to keep written and synced after the last commit (0..1 GiB, default 0: none).
   * Durable small commits then overwrite them instead of growing the file, so their fdatasync
   * need not also journal a new file size (e.g. 1 << 20 for many single-put durable commits).
   * The zeros are cut on close; after a crash the next open cuts them (recovery.tornBytes).
   */
  preallocate?: number
  /** The file layer to use (tests inject a simulated one). */
  fileIO?: FileIO
}

export interface ResolvedOptions {
  create: boolean
  readOnly: boolean
  durability: Durability
  cacheSize: number
  keyEncoding: EncodingName
  valueEncoding: EncodingName
  nodeSize: number
  autoCompact: Required<AutoCompactOptions> | undefined
  preallocate: number
  fileIO: FileIO | undefined
}

const NAMES = ['create', 'readOnly', 'durability', 'cacheSize', 'keyEncoding', 'valueEncoding', 'nodeSize', 'autoCompact', 'preallocate', 'fileIO']

function autoCompactOption(v: unknown, readOnly: boolean): Required<AutoCompactOptions> | undefined {
  if (v === undefined || v === false) return undefined
  if (readOnly) throw new TypeError("option 'autoCompact' needs a writer: drop it, or open without readOnly")
  const o = (v === true ? {} : v) as Record<string, unknown>
  if (typeof o !== 'object' || o === null) throw new TypeError("option 'autoCompact' must be true, false or { ratio, minSize, keep }")
  for (const k of Object.keys(o)) {
    if (!['ratio', 'minSize', 'keep'].includes(k)) throw new TypeError(`unknown autoCompact option '${k}'; the options are: ratio, minSize, keep`)
  }
  const ratio = o['ratio'] ?? 0.5
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1)) throw new RangeError(`autoCompact.ratio must be a number between 0 and 1 (exclusive), got ${String(ratio)}`)
  const minSize = intOption('autoCompact.minSize', o['minSize'], 64 << 20, 0, Number.MAX_SAFE_INTEGER)
  const keep = (o['keep'] ?? 'latest') as KeepPolicy
  parseKeep(keep)
  return { ratio, minSize, keep }
}

function encodingOption(name: string, v: unknown): EncodingName {
  if (v === undefined) return 'binary'
  if (!ENCODINGS.includes(v as EncodingName)) {
    throw new TypeError(`option '${name}' must be one of ${ENCODINGS.map((e) => `'${e}'`).join(', ')}, got ${JSON.stringify(v)}`)
  }
  return v as EncodingName
}

function boolOption(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') throw new TypeError(`option '${name}' must be true or false, got ${typeof v}`)
  return v
}

function intOption(name: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`option '${name}' must be an integer from ${min} to ${max}, got ${String(v)}`)
  }
  return v
}

export function resolveOptions(path: unknown, opts: unknown): ResolvedOptions {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`open(path) needs the database file's path as a non-empty string, got ${typeof path}`)
  }
  if (opts === undefined) opts = {}
  if (typeof opts !== 'object' || opts === null) throw new TypeError('open(path, options): options must be an object')
  const o = opts as Record<string, unknown>
  for (const k of Object.keys(o)) {
    if (NAMES.includes(k)) continue
    const near = NAMES.find((n) => n.toLowerCase() === k.toLowerCase())
    throw new TypeError(`unknown open option '${k}'${near ? `; did you mean '${near}'?` : `; the options are: ${NAMES.join(', ')}`}`)
  }
  const durability = o['durability'] ?? 'full'
  if (durability !== 'full' && durability !== 'none') {
    throw new TypeError(`option 'durability' must be 'full' or 'none', got ${JSON.stringify(durability)}`)
  }
  const readOnly = boolOption('readOnly', o['readOnly'], false)
  const create = boolOption('create', o['create'], !readOnly)
  if (readOnly && o['create'] === true) throw new TypeError("options 'readOnly' and 'create' conflict: a read-only open cannot create the file")
  const fileIO = o['fileIO'] as FileIO | undefined
  if (fileIO !== undefined && (typeof fileIO !== 'object' || typeof fileIO.open !== 'function')) {
    throw new TypeError("option 'fileIO' must implement the FileIO interface")
  }
  return {
    create,
    readOnly,
    durability,
    cacheSize: intOption('cacheSize', o['cacheSize'], 64 << 20, 0, Number.MAX_SAFE_INTEGER),
    keyEncoding: encodingOption('keyEncoding', o['keyEncoding']),
    valueEncoding: encodingOption('valueEncoding', o['valueEncoding']),
    nodeSize: intOption('nodeSize', o['nodeSize'], DEFAULT_NODE_SIZE, 512, 65536),
    preallocate: intOption('preallocate', o['preallocate'], 0, 0, 1 << 30),
    autoCompact: autoCompactOption(o['autoCompact'], readOnly),
    fileIO,
  }
}
