// Deterministic data for the benchmark: every child process regenerates the same keys from
// the same seeds, so a database loaded by one child can be read by another.
import { randomFillSync } from 'node:crypto'

export const KEY_SIZE = 16
export const VALUE_SIZE = 100

/** sfc32: a small, fast, seedable 32-bit PRNG. */
export function prng(seed) {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    t = (t + d) | 0
    c = (c + t) | 0
    return t >>> 0
  }
  for (let i = 0; i < 16; i++) next()
  return next
}

/** n random integers in [0, max) */
export function randomIndexes(n, max, seed) {
  const r = prng(seed)
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor((r() / 4294967296) * max)
  return out
}

/** n 16-byte keys from a seed, as subarray views of one buffer. */
export function makeKeys(n, seed) {
  const r = prng(seed)
  const buf = Buffer.allocUnsafe(n * KEY_SIZE)
  for (let i = 0; i < buf.length; i += 4) buf.writeUInt32BE(r(), i)
  const keys = new Array(n)
  for (let i = 0; i < n; i++) keys[i] = buf.subarray(i * KEY_SIZE, (i + 1) * KEY_SIZE)
  return keys
}

/** n 100-byte incompressible values (LevelDB compresses with snappy, so no repeats). */
export function makeValues(n) {
  const buf = randomFillSync(Buffer.allocUnsafe(n * VALUE_SIZE))
  const values = new Array(n)
  for (let i = 0; i < n; i++) values[i] = buf.subarray(i * VALUE_SIZE, (i + 1) * VALUE_SIZE)
  return values
}

/** The seeds: the loaded key set, keys never loaded (misses), random scan starts. */
export const SEED = { keys: 1, misses: 2, order: 3, scanStarts: 4, overwrite: 5, names: 6 }

/** A seeded Fisher-Yates shuffle, in place. */
export function shuffle(arr, seed) {
  const r = prng(seed)
  for (let i = arr.length - 1; i > 0; i--) {
    const j = Math.floor((r() / 4294967296) * (i + 1))
    const t = arr[i]; arr[i] = arr[j]; arr[j] = t
  }
  return arr
}

/** The smallest key greater than every key with this prefix (undefined: none). */
export function prefixEnd(prefix) {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) { end[i]++; return end.subarray(0, i + 1) }
  }
  return undefined
}
