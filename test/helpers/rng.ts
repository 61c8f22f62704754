/**
 * A small seeded PRNG for tests (mulberry32: 32-bit state, passes the usual smoke tests,
 * and is plenty for choosing crash points). The same seed always gives the same sequence,
 * so a failing crash or fault case is replayed from its seed alone.
 */

/** Returns a function giving uniform numbers in [0, 1), determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Rng {
  readonly seed: number
  private readonly nextFloat: () => number

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`)
    this.seed = seed
    this.nextFloat = mulberry32(seed)
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextFloat()
  }

  /** Uniform integer in [0, n); n must be a positive integer. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer n, got ${n}`)
    return Math.floor(this.nextFloat() * n)
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  /** True with probability p. */
  bool(p = 0.5): boolean {
    return this.nextFloat() < p
  }

  /** n random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.int(256)
    return out
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty list')
    return items[this.int(items.length)] as T
  }

  /** An independent generator derived from this one (for sub-tasks that must not shift this sequence). */
  fork(): Rng {
    return new Rng(this.int(0x100000000) | 0)
  }
}
