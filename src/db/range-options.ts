/** Validation of range/count/history options; turns them into byte bounds. */
import type { Bound, Bounds } from '../btree/read.js'
import { compareBytes, copyOf } from '../format/bytes.js'
import { encodeBound, type EncodingName } from './encoding.js'

export interface RangeOptions<K = unknown> {
  gt?: K
  gte?: K
  lt?: K
  lte?: K
  /** keys starting with these bytes (a string is taken as UTF-8) */
  prefix?: Uint8Array | string
  reverse?: boolean
  limit?: number
}

const RANGE_KEYS = new Set(['gt', 'gte', 'lt', 'lte', 'prefix', 'reverse', 'limit'])

export function checkOptionKeys(opts: object, allowed: Set<string>, what: string): void {
  for (const k of Object.keys(opts)) {
    if (!allowed.has(k)) throw new TypeError(`unknown ${what} option '${k}'; the options are: ${[...allowed].join(', ')}`)
  }
}

export function checkLimit(limit: unknown): number {
  if (limit === undefined || limit === Infinity) return Infinity
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`option 'limit' must be a non-negative integer or Infinity, got ${String(limit)}`)
  }
  return limit
}

export function checkReverse(reverse: unknown): boolean {
  if (reverse === undefined) return false
  if (typeof reverse !== 'boolean') throw new TypeError(`option 'reverse' must be a boolean, got ${typeof reverse}`)
  return reverse
}

/** The smallest key greater than every key starting with p, or undefined if none (p all 0xff). */
export function prefixEnd(p: Uint8Array): Uint8Array | undefined {
  for (let i = p.length - 1; i >= 0; i--) {
    if (p[i] !== 0xff) {
      const e = copyOf(p, 0, i + 1)
      e[i]!++
      return e
    }
  }
  return undefined
}

function tighterLower(a: Bound | undefined, b: Bound): Bound {
  if (a === undefined) return b
  const c = compareBytes(a.key, b.key)
  return c > 0 || (c === 0 && !a.inclusive) ? a : b
}

function tighterUpper(a: Bound | undefined, b: Bound): Bound {
  if (a === undefined) return b
  const c = compareBytes(a.key, b.key)
  return c < 0 || (c === 0 && !a.inclusive) ? a : b
}

export interface ParsedRange {
  bounds: Bounds
  reverse: boolean
  limit: number
}

/** All given bounds apply together (their intersection). */
export function parseRange(opts: RangeOptions | undefined, keyEncoding: EncodingName): ParsedRange {
  if (opts === undefined || opts === null) return { bounds: { lower: undefined, upper: undefined }, reverse: false, limit: Infinity }
  if (typeof opts !== 'object') throw new TypeError(`range options must be an object, got ${typeof opts}`)
  checkOptionKeys(opts, RANGE_KEYS, 'range')
  let lower: Bound | undefined
  let upper: Bound | undefined
  if (opts.gt !== undefined) lower = tighterLower(lower, { key: encodeBound(opts.gt, keyEncoding, 'gt'), inclusive: false })
  if (opts.gte !== undefined) lower = tighterLower(lower, { key: encodeBound(opts.gte, keyEncoding, 'gte'), inclusive: true })
  if (opts.lt !== undefined) upper = tighterUpper(upper, { key: encodeBound(opts.lt, keyEncoding, 'lt'), inclusive: false })
  if (opts.lte !== undefined) upper = tighterUpper(upper, { key: encodeBound(opts.lte, keyEncoding, 'lte'), inclusive: true })
  if (opts.prefix !== undefined) {
    const p = encodeBound(opts.prefix, keyEncoding === 'json' ? 'utf8' : keyEncoding, 'prefix')
    lower = tighterLower(lower, { key: p, inclusive: true })
    const end = prefixEnd(p)
    if (end !== undefined) upper = tighterUpper(upper, { key: end, inclusive: false })
  }
  return { bounds: { lower, upper }, reverse: checkReverse(opts.reverse), limit: checkLimit(opts.limit) }
}
