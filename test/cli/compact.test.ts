/**
 * `cambium compact` end to end: the summary line, --keep policies, --json, usage errors, a
 * locked file, and the contents and kept versions afterwards.
 */
import { statSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { open } from '../../src/index.js'
import { cambium, tempDir } from './helpers.js'

const tmp = tempDir('cambium-cli-compact-')
afterAll(() => tmp.cleanup())

/** 60 versions overwriting the same 50 keys. */
function makeHistory(name: string): string {
  const path = tmp.path(name)
  const db = open(path, { durability: 'none', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  for (let v = 1; v <= 60; v++) db.batch(Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: `v${v}-${i}` })))
  db.close()
  return path
}

describe('cambium compact', () => {
  it('keeps the chosen versions, prints X -> Y bytes, and the file shrinks', () => {
    const path = makeHistory('h.cambium')
    const before = statSync(path).size
    const r = cambium(['compact', path, '--keep', 'since:41'])
    expect(r.status).toBe(0)
    expect(r.stderr).toBe('')
    const m = /^(\d+) -> (\d+) bytes \(.*\), kept 20 versions \(41\.\.60\) in [\d.]+ s\n$/.exec(r.stdout)
    expect(m, r.stdout).not.toBeNull()
    expect(Number(m![1])).toBe(before)
    expect(Number(m![2])).toBe(statSync(path).size)
    expect(Number(m![2])).toBeLessThan(before)
    expect(cambium(['get', path, 'k7', '--at', '45']).stdout).toBe('v45-7\n')
    const dropped = cambium(['get', path, 'k7', '--at', '40'])
    expect(dropped.status).toBe(1)
    expect(dropped.stderr).toMatch(/ERR_VERSION_NOT_FOUND.*holds versions 41 to 60/)
    const json = JSON.parse(cambium(['compact', path, '--json']).stdout) as Record<string, number>
    expect(json).toMatchObject({ versionsKept: 1, firstVersion: 60, lastVersion: 60 })
    expect(json['bytesAfter']).toBe(statSync(path).size)
    expect(cambium(['check', path, '--all-versions']).stdout).toBe('OK\n')
    expect(cambium(['get', path, 'k49']).stdout).toBe('v60-49\n')
  })

  it('rejects a bad --keep with exit 2, and a locked file with exit 3', () => {
    const path = makeHistory('l.cambium')
    const bad = cambium(['compact', path, '--keep', 'sometimes'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/--keep/)
    const holder = open(path)
    try {
      expect(cambium(['compact', path]).status).toBe(3)
    } finally {
      holder.close()
    }
    expect(cambium(['compact', tmp.path('missing.cambium')]).status).toBe(1)
  })
})
