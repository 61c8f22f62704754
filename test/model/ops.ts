/**
 * The operation language of the model-based tests, as plain JSON-able objects so that a
 * failing case prints readably (fast-check prints the counterexample) and can be pasted
 * back into a regression test. Keys and values are specs resolved at run time, so that
 * shrinking keeps meaning: `{ p: i }` is "the i-th present key (mod count)".
 */

/** A key: literal hex, the i-th key present at run time, or a long generated key. */
export type KeySpec =
  | { k: string }
  | { p: number }
  | { long: number; fill: number; tail: string }

/** A value: `len` bytes, byte i = (fill + i * 7) & 0xff. */
export interface ValSpec {
  len: number
  fill: number
}

/** A range bound: a key spec, or a key spec with a suffix appended (a non-key between keys). */
export type BoundSpec = KeySpec | { after: KeySpec; suffix: string } | { empty: true }

export interface RangeSpec {
  gt?: BoundSpec
  gte?: BoundSpec
  lt?: BoundSpec
  lte?: BoundSpec
  prefix?: BoundSpec
  reverse?: boolean
  limit?: number
}

export type ReadApiName = 'range' | 'keys' | 'values' | 'count'

export interface HistorySpec {
  gt?: number
  gte?: number
  lt?: number
  lte?: number
  reverse?: boolean
  limit?: number
}

/** `n` keys hex(base) + u16be(i * stride) + '.' * pad, all with value `val` (fill + i). */
export interface FillSpec {
  n: number
  base: string
  stride: number
  pad: number
  val: ValSpec
}

export type BatchEntry = { t: 'put'; key: KeySpec; val: ValSpec } | { t: 'del'; key: KeySpec }

/** Writes usable both on the db (each its own commit) and in a transaction. */
export type WriteOp =
  | { t: 'put'; key: KeySpec; val: ValSpec }
  | { t: 'del'; key: KeySpec }
  | { t: 'fill'; fill: FillSpec }
  /** delete every present key except every `keep`-th (keep 1: delete all) */
  | { t: 'purge'; keep: number; offset: number }

export type TxOp =
  | WriteOp
  | { t: 'get'; key: KeySpec }
  | { t: 'has'; key: KeySpec }
  | { t: 'read'; api: ReadApiName; range: RangeSpec }
  /** an iterator made now, partly consumed, then writes interleaved with next(): yields the state at creation */
  | { t: 'iter'; api: 'range' | 'keys' | 'values'; range: RangeSpec; take: number; writes: WriteOp[] }
  /** db.put inside the callback: must be a TypeError and change nothing */
  | { t: 'dbWrite' }
  /** open a live iterator (kept until the callback ends), or pull n items from live iterator i */
  | { t: 'open'; api: 'range' | 'keys' | 'values'; range: RangeSpec }
  | { t: 'pull'; i: number; n: number }

export type BadKind = 'emptyPut' | 'emptyDel' | 'emptyInBatch' | 'tooLongPut' | 'tooLongInTx' | 'futureCheckout' | 'futureRollback' | 'negativeCheckout'

export type Op =
  | { t: 'put'; key: KeySpec; val: ValSpec }
  | { t: 'del'; key: KeySpec }
  | { t: 'batch'; ops: BatchEntry[] }
  | { t: 'fill'; fill: FillSpec; via: 'batch' | 'tx' }
  | { t: 'purge'; keep: number; offset: number; via: 'batch' | 'tx' | 'single' }
  /** throwAt: throw before op[throwAt] (or at the end if >= length); ret: the value returned */
  | { t: 'tx'; ops: TxOp[]; throwAt: number | null }
  | { t: 'get'; key: KeySpec }
  | { t: 'has'; key: KeySpec }
  | { t: 'read'; api: ReadApiName; range: RangeSpec }
  | { t: 'checkout'; v: number; range: RangeSpec }
  | { t: 'rollback'; v: number }
  | { t: 'history'; h: HistorySpec }
  | { t: 'reopen'; durability: 'full' | 'none'; nodeSize: number; cacheSize: number | null; probe: boolean }
  | { t: 'iter'; api: 'range' | 'keys' | 'values'; range: RangeSpec; take: number; writes: (WriteOp | { t: 'rollback'; v: number })[] }
  | { t: 'reader'; v: number }
  /** live iterators over the db, kept across later ops; drained by 'check', reopen and the end */
  | { t: 'open'; api: 'range' | 'keys' | 'values'; range: RangeSpec }
  | { t: 'pull'; i: number; n: number }
  | { t: 'check' }
  /** n single-op commits over `mod` small keys: many versions quickly (skip pointers, history) */
  | { t: 'burst'; n: number; mod: number; fill: number }
  | { t: 'bad'; kind: BadKind }
  /** db.compact(): the kept versions stay readable with the same contents, the others are gone */
  | { t: 'compact'; keep: KeepSpec }
  /** db.compactAsync() with db writes on the event loop meanwhile; closeEarly: close (abandoning it) after the writes */
  | {
      t: 'compactAsync'
      keep: KeepSpec
      sliceMs: number
      writes: (WriteOp | { t: 'rollback'; v: number })[]
      closeEarly: boolean
      /** after each write also take a snapshot and open an iterator (checked after the swap) */
      pin: boolean
    }
  /** yield to the event loop n times (background auto-compaction runs) */
  | { t: 'tick'; n: number }

/** A compaction keep policy; `rel` picks a version (or its time) of those in the file. */
export type KeepSpec =
  | { kind: 'default' }
  | { kind: 'latest' }
  | { kind: 'all' }
  | { kind: 'since'; rel: number }
  | { kind: 'sinceTime'; rel: number }
  | { kind: 'every'; ms: number }

export interface RunConfig {
  nodeSize: number
  durability: 'full' | 'none'
  /** null: the default cache */
  cacheSize: number | null
  /** hand keys, values and bounds over as plain Uint8Arrays instead of Buffers */
  u8: boolean
  /** overwrite every buffer handed to a write once the call returns */
  scribble: boolean
  /** open with autoCompact { ratio, minSize: 0, keep: 'all' } (null: off) */
  autoCompact: number | null
}
