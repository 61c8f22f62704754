/** CRC-32 (IEEE, zlib's polynomial) through Node's built-in zlib.crc32 (native, Node >= 20.15). */
import { crc32 as zcrc32 } from 'node:zlib'

export function crc32(data: Uint8Array, seed = 0): number {
  return zcrc32(data, seed) >>> 0
}
