/** fast-check arbitraries for the model-based tests (see ops.ts for the op language). */
import fc from 'fast-check'
import type {
  BadKind,
  BatchEntry,
  BoundSpec,
  FillSpec,
  HistorySpec,
  KeepSpec,
  KeySpec,
  Op,
  RangeSpec,
  ReadApiName,
  RunConfig,
  TxOp,
  ValSpec,
  WriteOp,
} from './ops.js'

/** Few distinct bytes (so keys collide a lot), including 0x00 and 0xff. */
const ALPHABET = ['00', '01', '61', '62', '63', '7f', 'fe', 'ff']

export interface Profile {
  /** weight of long keys (100..4096 bytes) among key specs */
  longKeys: number
  /** weight of big values (> 256 bytes) among values */
  bigValues: number
  /** weight of ~100 KB values */
  hugeValues: number
  /** max n of a fill */
  fillMax: number
  /** weights of fill/purge ops */
  bulk: number
  /** weight of iterator-isolation ops */
  iter: number
  /** max ops per run */
  maxOps: number
  /** weight of bursts of single commits, and their max length */
  burst: number
  burstMax: number
  /** weight of compaction ops */
  compact: number
}

export const PROFILES = {
  mixed: { longKeys: 4, bigValues: 6, hugeValues: 0, fillMax: 60, bulk: 2, iter: 2, maxOps: 40, burst: 1, burstMax: 40, compact: 2 },
  deep: { longKeys: 3, bigValues: 4, hugeValues: 0, fillMax: 2500, bulk: 12, iter: 2, maxOps: 24, burst: 0, burstMax: 0, compact: 2 },
  iter: { longKeys: 2, bigValues: 4, hugeValues: 0, fillMax: 400, bulk: 4, iter: 20, maxOps: 16, burst: 0, burstMax: 0, compact: 2 },
  large: { longKeys: 25, bigValues: 30, hugeValues: 2, fillMax: 200, bulk: 3, iter: 2, maxOps: 24, burst: 0, burstMax: 0, compact: 2 },
  /** many versions: bursts of single commits, checkouts, rollbacks and history */
  versions: { longKeys: 2, bigValues: 4, hugeValues: 0, fillMax: 100, bulk: 1, iter: 1, maxOps: 20, burst: 6, burstMax: 700, compact: 2 },
  /** tens of MB per run: ~100 KB values in fills (commits past the 8 MiB recovery window) */
  volume: { longKeys: 2, bigValues: 10, hugeValues: 30, fillMax: 150, bulk: 6, iter: 1, maxOps: 8, burst: 0, burstMax: 0, compact: 2 },
} satisfies Record<string, Profile>

const hexByte = fc.constantFrom(...ALPHABET)
const hexBytes = (min: number, max: number): fc.Arbitrary<string> =>
  fc.array(hexByte, { minLength: min, maxLength: max }).map((a) => a.join(''))

/** 0x6b6b2f = "kk/": a shared prefix for a family of keys */
const SHARED_PREFIXES = ['6b6b2f', '6b6b2f6b', '00', 'ff', 'ffff', '61616161616161616161']

export function keySpec(p: Profile): fc.Arbitrary<KeySpec> {
  return fc.oneof(
    { weight: 40, arbitrary: hexBytes(1, 3).map((k) => ({ k })) },
    { weight: 25, arbitrary: fc.nat(1000).map((i) => ({ p: i })) },
    {
      weight: 12,
      arbitrary: fc.tuple(fc.constantFrom(...SHARED_PREFIXES), hexBytes(0, 2)).map(([a, b]) => ({ k: a + b })),
    },
    {
      weight: p.longKeys,
      arbitrary: fc
        .record({
          long: fc.oneof(fc.integer({ min: 100, max: 4095 }), fc.constant(4096), fc.integer({ min: 255, max: 258 })),
          fill: fc.constantFrom(0x00, 0x61, 0xff),
          tail: hexBytes(0, 1),
        })
        .map((r) => r),
    },
  )
}

export function valSpec(p: Profile): fc.Arbitrary<ValSpec> {
  const fill = fc.nat(255)
  return fc.oneof(
    { weight: 10, arbitrary: fc.record({ len: fc.constant(0), fill }) },
    { weight: 50, arbitrary: fc.record({ len: fc.integer({ min: 1, max: 40 }), fill }) },
    { weight: 4, arbitrary: fc.record({ len: fc.constantFrom(255, 256, 257), fill }) },
    { weight: p.bigValues, arbitrary: fc.record({ len: fc.integer({ min: 257, max: 3000 }), fill }) },
    { weight: p.hugeValues, arbitrary: fc.record({ len: fc.integer({ min: 90_000, max: 110_000 }), fill }) },
  )
}

export function boundSpec(p: Profile): fc.Arbitrary<BoundSpec> {
  return fc.oneof(
    { weight: 6, arbitrary: keySpec(p) },
    { weight: 3, arbitrary: fc.record({ after: keySpec(p), suffix: fc.constantFrom('00', 'ff', '0000', '61') }) },
    { weight: 1, arbitrary: fc.constant({ empty: true as const }) },
  )
}

export function rangeSpec(p: Profile): fc.Arbitrary<RangeSpec> {
  const b = boundSpec(p)
  // prefixes: short ones select something; bound-derived ones test prefixes that are keys
  const prefix = fc.oneof(
    { weight: 4, arbitrary: hexBytes(1, 2).map((k): BoundSpec => ({ k })) },
    { weight: 2, arbitrary: fc.constantFrom(...SHARED_PREFIXES).map((k): BoundSpec => ({ k })) },
    { weight: 2, arbitrary: b },
  )
  return fc.record(
    {
      gt: b,
      gte: b,
      lt: b,
      lte: b,
      prefix,
      reverse: fc.boolean(),
      limit: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 6, max: 3000 })),
    },
    { requiredKeys: [] },
  )
}

const readApi: fc.Arbitrary<ReadApiName> = fc.constantFrom('range', 'keys', 'values', 'count')
const iterApi = fc.constantFrom<'range' | 'keys' | 'values'>('range', 'keys', 'values')

export function fillSpec(p: Profile, max = p.fillMax): fc.Arbitrary<FillSpec> {
  return fc.record({
    n: fc.oneof(fc.integer({ min: 1, max: Math.min(max, 50) }), fc.integer({ min: 1, max })),
    base: fc.oneof(hexBytes(0, 2), fc.constantFrom(...SHARED_PREFIXES)),
    stride: fc.integer({ min: 1, max: 3 }),
    pad: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 60 }) }, { weight: p.longKeys > 10 ? 2 : 0, arbitrary: fc.integer({ min: 500, max: 4090 }) }),
    val: valSpec(p),
  })
}

export function writeOp(p: Profile, fillMax = p.fillMax): fc.Arbitrary<WriteOp> {
  const k = keySpec(p)
  return fc.oneof(
    { weight: 10, arbitrary: fc.record({ t: fc.constant('put' as const), key: k, val: valSpec(p) }) },
    { weight: 6, arbitrary: fc.record({ t: fc.constant('del' as const), key: k }) },
    { weight: Math.ceil(p.bulk / 2), arbitrary: fc.record({ t: fc.constant('fill' as const), fill: fillSpec(p, fillMax) }) },
    {
      weight: Math.ceil(p.bulk / 3),
      arbitrary: fc.record({ t: fc.constant('purge' as const), keep: fc.integer({ min: 1, max: 12 }), offset: fc.nat(11) }),
    },
  )
}

export function txOp(p: Profile): fc.Arbitrary<TxOp> {
  const k = keySpec(p)
  return fc.oneof(
    { weight: 12, arbitrary: writeOp(p, Math.min(p.fillMax, 400)) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), key: k }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('has' as const), key: k }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('read' as const), api: readApi, range: rangeSpec(p) }) },
    {
      weight: p.iter,
      arbitrary: fc.record({
        t: fc.constant('iter' as const),
        api: iterApi,
        range: rangeSpec(p),
        take: fc.nat(6),
        writes: fc.array(writeOp(p, Math.min(p.fillMax, 400)), { maxLength: 8, size: 'medium' }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ t: 'dbWrite' as const }) },
    { weight: Math.ceil(p.iter / 2), arbitrary: fc.record({ t: fc.constant('open' as const), api: iterApi, range: rangeSpec(p) }) },
    { weight: p.iter, arbitrary: fc.record({ t: fc.constant('pull' as const), i: fc.nat(5), n: fc.integer({ min: 1, max: 4 }) }) },
  )
}

function batchEntry(p: Profile): fc.Arbitrary<BatchEntry> {
  const k = keySpec(p)
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant('put' as const), key: k, val: valSpec(p) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), key: k }) },
  )
}

const historyBound = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: -2, max: 60 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 3000 }) })
const historySpec: fc.Arbitrary<HistorySpec> = fc.record(
  {
    gt: historyBound,
    gte: historyBound,
    lt: historyBound,
    lte: historyBound,
    reverse: fc.boolean(),
    limit: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 9, max: 2000 })),
  },
  { requiredKeys: [] },
)

const badKind: fc.Arbitrary<BadKind> = fc.constantFrom(
  'emptyPut',
  'emptyDel',
  'emptyInBatch',
  'tooLongPut',
  'tooLongInTx',
  'futureCheckout',
  'futureRollback',
  'negativeCheckout',
)

const keepSpec: fc.Arbitrary<KeepSpec> = fc.oneof(
  fc.constant({ kind: 'default' as const }),
  fc.constant({ kind: 'latest' as const }),
  fc.constant({ kind: 'all' as const }),
  fc.record({ kind: fc.constant('since' as const), rel: fc.nat(1000) }),
  fc.record({ kind: fc.constant('sinceTime' as const), rel: fc.nat(1000) }),
  fc.record({ kind: fc.constant('every' as const), ms: fc.constantFrom(1, 2, 5, 20, 1000, 0.5) }),
)

export function op(p: Profile): fc.Arbitrary<Op> {
  const k = keySpec(p)
  const version = fc.nat(10_000)
  const iterWrite = fc.oneof(
    { weight: 8, arbitrary: writeOp(p) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('rollback' as const), v: version }) },
  )
  return fc.oneof(
    { weight: 14, arbitrary: fc.record({ t: fc.constant('put' as const), key: k, val: valSpec(p) }) },
    { weight: 7, arbitrary: fc.record({ t: fc.constant('del' as const), key: k }) },
    { weight: 5, arbitrary: fc.record({ t: fc.constant('batch' as const), ops: fc.array(batchEntry(p), { maxLength: 30, size: 'medium' }) }) },
    {
      weight: p.bulk,
      arbitrary: fc.record({ t: fc.constant('fill' as const), fill: fillSpec(p), via: fc.constantFrom<'batch' | 'tx'>('batch', 'tx') }),
    },
    {
      weight: p.bulk,
      arbitrary: fc.record({
        t: fc.constant('purge' as const),
        keep: fc.integer({ min: 1, max: 12 }),
        offset: fc.nat(11),
        via: fc.constantFrom<'batch' | 'tx' | 'single'>('batch', 'tx', 'tx', 'single'),
      }),
    },
    {
      weight: 7,
      arbitrary: fc
        .array(txOp(p), { maxLength: 14, size: 'medium' })
        .chain((ops) =>
          fc.record({ t: fc.constant('tx' as const), ops: fc.constant(ops), throwAt: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: ops.length }) }) }),
        ),
    },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('get' as const), key: k }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('has' as const), key: k }) },
    { weight: 7, arbitrary: fc.record({ t: fc.constant('read' as const), api: readApi, range: rangeSpec(p) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('checkout' as const), v: version, range: rangeSpec(p) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('rollback' as const), v: version }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('history' as const), h: historySpec }) },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('reopen' as const),
        durability: fc.constantFrom<'full' | 'none'>('none', 'none', 'full'),
        nodeSize: fc.constantFrom(512, 512, 1024, 1024, 4096),
        cacheSize: fc.constantFrom<number | null>(null, null, 0, 8192),
        probe: fc.boolean(),
      }),
    },
    {
      weight: p.iter,
      arbitrary: fc.record({
        t: fc.constant('iter' as const),
        api: iterApi,
        range: rangeSpec(p),
        take: fc.nat(6),
        writes: fc.array(iterWrite, { maxLength: 6, size: 'medium' }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('reader' as const), v: version }) },
    { weight: Math.ceil(p.iter / 2), arbitrary: fc.record({ t: fc.constant('open' as const), api: iterApi, range: rangeSpec(p) }) },
    { weight: p.iter, arbitrary: fc.record({ t: fc.constant('pull' as const), i: fc.nat(5), n: fc.integer({ min: 1, max: 4 }) }) },
    { weight: 2, arbitrary: fc.constant({ t: 'check' as const }) },
    {
      weight: p.burst,
      arbitrary: fc.record({ t: fc.constant('burst' as const), n: fc.integer({ min: 1, max: Math.max(1, p.burstMax) }), mod: fc.integer({ min: 1, max: 20 }), fill: fc.nat(255) }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('bad' as const), kind: badKind }) },
    { weight: p.compact, arbitrary: fc.record({ t: fc.constant('compact' as const), keep: keepSpec }) },
    {
      weight: p.compact,
      arbitrary: fc.record({
        t: fc.constant('compactAsync' as const),
        keep: keepSpec,
        sliceMs: fc.constantFrom(0.001, 0.05, 1, 10),
        writes: fc.array(
          fc.oneof(
            { weight: 8, arbitrary: writeOp(p, Math.min(p.fillMax, 300)) },
            { weight: 2, arbitrary: fc.record({ t: fc.constant('rollback' as const), v: version }) },
          ),
          { maxLength: 10, size: 'medium' },
        ),
        closeEarly: fc.boolean(),
        pin: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('tick' as const), n: fc.integer({ min: 1, max: 30 }) }) },
  )
}

export function ops(p: Profile): fc.Arbitrary<Op[]> {
  return fc.array(op(p), { minLength: 1, maxLength: p.maxOps, size: 'max' })
}

/** Starts with one commit of 8-14 MB (~100 KB values), past the 8 MiB recovery window. */
export function volumeOps(p: Profile): fc.Arbitrary<Op[]> {
  const big: fc.Arbitrary<Op> = fc.record({
    t: fc.constant('fill' as const),
    fill: fc.record({
      n: fc.integer({ min: 80, max: 140 }),
      base: hexBytes(0, 2),
      stride: fc.integer({ min: 1, max: 3 }),
      pad: fc.constant(0),
      val: fc.record({ len: fc.integer({ min: 95_000, max: 105_000 }), fill: fc.nat(255) }),
    }),
    via: fc.constantFrom<'batch' | 'tx'>('batch', 'tx'),
  })
  return fc.tuple(big, ops(p)).map(([b, rest]) => [b, ...rest])
}

export function runConfig(smallNodes: number): fc.Arbitrary<RunConfig> {
  return fc.record({
    nodeSize: fc.oneof(
      { weight: smallNodes, arbitrary: fc.constant(512) },
      { weight: 3, arbitrary: fc.constant(1024) },
      { weight: 1, arbitrary: fc.integer({ min: 512, max: 8192 }) },
      { weight: 1, arbitrary: fc.constant(65536) },
    ),
    durability: fc.oneof({ weight: 6, arbitrary: fc.constant('none' as const) }, { weight: 1, arbitrary: fc.constant('full' as const) }),
    cacheSize: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(16384) }),
    u8: fc.boolean(),
    scribble: fc.boolean(),
    autoCompact: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(0.2, 0.5, 0.8) }),
  })
}
