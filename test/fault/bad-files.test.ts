/**
 * Opening files that are not (usable) cambium databases gives the documented error codes
 * (FORMAT.md §7 step 2 and 7), for read-only and read-write opens, leaks no handle, keeps
 * the writer lock free, and never changes the file.
 */
import { describe, expect, it } from 'vitest'
import { writeU32 } from '../../src/format/bytes.js'
import { crc32 } from '../../src/format/checksum.js'
import {
  COMMIT_RECORD_SIZE,
  HEADER_CRC_OFFSET,
  HEADER_FLAGS_OFFSET,
  HEADER_READ_VERSION_OFFSET,
  HEADER_RESERVED_OFFSET,
  HEADER_SIZE,
  HEADER_WRITE_VERSION_OFFSET,
} from '../../src/format/constants.js'
import { CambiumError } from '../../src/index.js'
import { Rng } from '../helpers/rng.js'
import { SimFileIO } from '../helpers/sim-file-io.js'
import { DB_PATH, describeError, openDb } from './workload.js'

function validImage(): Uint8Array {
  const sim = new SimFileIO({ seed: 1, powersafeOverwrite: true })
  const db = openDb(sim, { durability: 'full' })
  db.put('a', Buffer.from('1'))
  db.close()
  return sim.fileBytes(DB_PATH)
}
const VALID = validImage()

/** A copy of `img` with header bytes changed by `edit` and the header CRC recomputed. */
function withHeader(img: Uint8Array, edit: (b: Uint8Array) => void, fixCrc = true): Uint8Array {
  const b = new Uint8Array(img)
  edit(b)
  if (fixCrc) writeU32(b, HEADER_CRC_OFFSET, crc32(b.subarray(0, HEADER_CRC_OFFSET)))
  return b
}

function u16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff
  b[at + 1] = v >> 8
}

type Expect = string | number // an error code, or the version it must open at

function tryOpen(bytes: Uint8Array, readOnly: boolean): Expect {
  const sim = SimFileIO.fromImage(new Map([[DB_PATH, bytes]]), { seed: 1, powersafeOverwrite: true })
  let result: Expect
  try {
    const db = openDb(sim, { durability: 'full', readOnly })
    result = db.version
    db.close()
  } catch (e) {
    if (!(e instanceof CambiumError)) throw new Error(`not a CambiumError: ${describeError(e)}`)
    result = e.code
    // The file is untouched and the lock is free: a read-only open of a bad file must not block a writer.
    expect(Buffer.from(sim.fileBytes(DB_PATH)).equals(Buffer.from(bytes))).toBe(true)
    sim.lock(DB_PATH).release()
  }
  expect(sim.openHandleCount).toBe(0)
  return result
}

const rnd = new Rng(31)
const cases: Array<[string, Uint8Array, Expect, Expect]> = [
  // name, bytes, read-only result, read-write result
  ['an empty file', new Uint8Array(0), 'ERR_NOT_A_DATABASE', 'ERR_NOT_A_DATABASE'],
  ['a 63-byte file', VALID.slice(0, 63), 'ERR_NOT_A_DATABASE', 'ERR_NOT_A_DATABASE'],
  ['garbage only (4 KiB of random bytes)', rnd.bytes(4096), 'ERR_NOT_A_DATABASE', 'ERR_NOT_A_DATABASE'],
  ['a text file', new TextEncoder().encode('hello, this is not a database\n'.repeat(20)), 'ERR_NOT_A_DATABASE', 'ERR_NOT_A_DATABASE'],
  ['the magic, then garbage', Uint8Array.from([...VALID.slice(0, 8), ...rnd.bytes(500)]), 'ERR_CORRUPT', 'ERR_CORRUPT'],
  ['a header only', VALID.slice(0, HEADER_SIZE), 'ERR_CORRUPT', 'ERR_CORRUPT'],
  ['a header and a cut creation commit', VALID.slice(0, HEADER_SIZE + COMMIT_RECORD_SIZE - 1), 'ERR_CORRUPT', 'ERR_CORRUPT'],
  ['a header and zeros', Uint8Array.from([...VALID.slice(0, HEADER_SIZE), ...new Uint8Array(4096)]), 'ERR_CORRUPT', 'ERR_CORRUPT'],
  ['a header and random bytes', Uint8Array.from([...VALID.slice(0, HEADER_SIZE), ...rnd.bytes(4096)]), 'ERR_CORRUPT', 'ERR_CORRUPT'],
  ['a header with a bad CRC', withHeader(VALID, (b) => (b[40] = 1), false), 'ERR_CORRUPT', 'ERR_CORRUPT'],
  ['a future readVersion (2)', withHeader(VALID, (b) => u16(b, HEADER_READ_VERSION_OFFSET, 2)), 'ERR_UNSUPPORTED_VERSION', 'ERR_UNSUPPORTED_VERSION'],
  ['a future writeVersion (2): readable, not writable', withHeader(VALID, (b) => u16(b, HEADER_WRITE_VERSION_OFFSET, 2)), 1, 'ERR_UNSUPPORTED_VERSION'],
  ['header feature flags', withHeader(VALID, (b) => (b[HEADER_FLAGS_OFFSET] = 1)), 'ERR_UNSUPPORTED_VERSION', 'ERR_UNSUPPORTED_VERSION'],
  ['non-zero reserved header bytes', withHeader(VALID, (b) => (b[HEADER_RESERVED_OFFSET + 3] = 7)), 'ERR_CORRUPT', 'ERR_CORRUPT'],
  [
    'a future readVersion with reserved bytes in use (versions are checked first)',
    withHeader(VALID, (b) => {
      u16(b, HEADER_READ_VERSION_OFFSET, 3)
      b[HEADER_RESERVED_OFFSET] = 1
    }),
    'ERR_UNSUPPORTED_VERSION',
    'ERR_UNSUPPORTED_VERSION',
  ],
  ['a header with a bad CRC and a future version (the CRC is checked first)', withHeader(VALID, (b) => u16(b, HEADER_READ_VERSION_OFFSET, 2), false), 'ERR_CORRUPT', 'ERR_CORRUPT'],
  ['a valid file (control)', VALID, 1, 1],
]

describe('opening files that are not usable databases', () => {
  for (const [name, bytes, ro, rw] of cases) {
    it(`${name}: read-only -> ${ro}, read-write -> ${rw}`, () => {
      expect(tryOpen(bytes, true)).toBe(ro)
      expect(tryOpen(bytes, false)).toBe(rw)
    })
  }

  it('a missing file: ERR_NOT_FOUND read-only and with create: false', () => {
    const sim = new SimFileIO({ seed: 1, powersafeOverwrite: true })
    for (const o of [{ readOnly: true }, { create: false }]) {
      try {
        openDb(sim, { durability: 'full', ...o })
        expect.unreachable()
      } catch (e) {
        expect(e instanceof CambiumError && e.code, JSON.stringify(o)).toBe('ERR_NOT_FOUND')
      }
    }
    expect(sim.listFiles()).toEqual([])
    expect(sim.openHandleCount).toBe(0)
  })
})
