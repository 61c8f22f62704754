/**
 * The iterator range(), keys() and values() return (db/read-api.ts EntryIterator) behaves as
 * the generators it replaced: it sees the version current when it was made, stays done once
 * it ends, throws or is returned, and inherits %IteratorPrototype%. Iterators that walk
 * leaves the cache does not take (each packs them into its own scratch space, over the last
 * one) see the right entries however they interleave.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CambiumError, open } from '../../src/index.js'

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-iter-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as object

describe('range iterators', () => {
  it('follow the iterator protocol as generators do', () => {
    const db = open(path.join(dir, 'a.cambium'), { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    try {
      db.batch(['a', 'b', 'c', 'd'].map((k) => ({ type: 'put' as const, key: k, value: k.toUpperCase() })))
      const it = db.range({ gte: 'b' })
      expect(Object.prototype.isPrototypeOf.call(IteratorPrototype, it)).toBe(true)
      expect(it[Symbol.iterator]()).toBe(it)
      db.put('bb', 'later') // made after the iterator: not seen
      expect([...it]).toEqual([['b', 'B'], ['c', 'C'], ['d', 'D']])
      expect(it.next()).toEqual({ value: undefined, done: true })

      const keys = db.keys()
      expect(keys.next()).toEqual({ value: 'a', done: false })
      expect(keys.return?.()).toEqual({ value: undefined, done: true })
      expect(keys.next()).toEqual({ value: undefined, done: true })

      expect([...db.values({ limit: 2, reverse: true })]).toEqual(['D', 'C'])
      expect(db.keys({ limit: 0 }).next().done).toBe(true)
      for (const k of db.keys()) if (k === 'b') break

      const live = db.keys()
      expect(live.next().value).toBe('a')
      db.close()
      let err: unknown
      try {
        live.next()
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(CambiumError)
      expect((err as CambiumError).code).toBe('ERR_CLOSED')
      expect(live.next()).toEqual({ value: undefined, done: true }) // done once it threw
    } finally {
      db.close()
    }
  })

  it('interleaved walks over leaves read without caching see their own entries', () => {
    const file = path.join(dir, 'b.cambium')
    const keys = Array.from({ length: 3000 }, (_, i) => `k${String(i).padStart(5, '0')}`)
    const w = open(file, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    w.batch(keys.map((k) => ({ type: 'put' as const, key: k, value: `v${k}` })))
    w.close()
    // A cache far smaller than the file, soon full: then a leaf read for the first time is
    // not cached (NodeCache.admit), and each walk packs it into its own scratch space.
    const db = open(file, { readOnly: true, keyEncoding: 'utf8', valueEncoding: 'utf8', cacheSize: 8192 })
    try {
      const fwd = db.range()
      const back = db.range({ reverse: true })
      const mid = db.keys({ gte: 'k01500' })
      for (let i = 0; i < keys.length; i++) {
        expect(fwd.next().value).toEqual([keys[i], `v${keys[i]}`])
        expect(back.next().value).toEqual([keys[keys.length - 1 - i], `v${keys[keys.length - 1 - i]}`])
        if (1500 + i < keys.length) expect(mid.next().value).toBe(keys[1500 + i])
      }
      expect(fwd.next().done).toBe(true)
      expect(back.next().done).toBe(true)
      expect([...db.keys()]).toEqual(keys) // some leaves read twice now are cached: the same answer
    } finally {
      db.close()
    }
  })
})
