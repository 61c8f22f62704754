/**
 * A big commit does not cache the leaves it fills with keys appended past an old leaf's end
 * (writeCommit, MergeContext.appendedPiece): a sorted load writes ~125 such leaves a commit
 * and writes only the run's last one again, so caching them only held memory. They still
 * read back, from the file.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import type { Store } from '../../src/store/store.js'

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-append-cache-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(8, '0')}`)
const value = (i: number): Buffer => Buffer.alloc(100, i & 0xff)
const cachedNodes = (db: object): number => (db as { store: Store }).store.cache.size

it('a sorted run appended in one commit leaves its inner leaves uncached, and they read back', () => {
  const db = open(path.join(dir, 'sorted.cambium'), { durability: 'none' })
  db.batch(Array.from({ length: 5 }, (_, i) => ({ type: 'put', key: key(i), value: value(i) })))
  const before = cachedNodes(db)
  // ~8 entries a 1 KiB leaf: ~600 new leaves, every one past the old leaf's last key.
  const n = 5_000
  db.batch(Array.from({ length: n }, (_, i) => ({ type: 'put', key: key(i + 5), value: value(i + 5) })))
  const added = cachedNodes(db) - before
  // The first 32 nodes a commit writes are kept for the next transaction and cached; then
  // the run's last leaf and the branches. Caching every leaf would add ~600.
  expect(added).toBeGreaterThan(0)
  expect(added).toBeLessThan(100)
  for (let i = 0; i < n + 5; i++) expect(db.get(key(i))).toEqual(value(i))
  expect(db.count()).toBe(n + 5)
  db.close()
})

it('the same keys in random order, merged into existing leaves, are cached', () => {
  const db = open(path.join(dir, 'random.cambium'), { durability: 'none' })
  const n = 5_000
  db.batch(Array.from({ length: n }, (_, i) => ({ type: 'put', key: key(2 * i), value: value(2 * i) })))
  const before = cachedNodes(db)
  db.batch(Array.from({ length: n }, (_, i) => ({ type: 'put', key: key(2 * i + 1), value: value(2 * i + 1) })))
  expect(cachedNodes(db) - before).toBeGreaterThan(500)
  db.close()
})
