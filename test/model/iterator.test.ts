/**
 * The iterator range(), keys() and values() return (db/read-api.ts EntryIterator) behaves as
 * the generators it replaced: it sees the version current when it was made, stays done once
 * it ends, throws or is returned, and inherits %IteratorPrototype%.
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
})
