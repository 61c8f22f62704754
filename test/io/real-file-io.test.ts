import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { realFileIO } from '../../src/io/real-file-io.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-rfio-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs)

describe('realFileIO', () => {
  it('creates, writes, reads, truncates and reports size', () => {
    const p = path.join(dir, 'a.db')
    expect(realFileIO.exists(p)).toBe(false)
    const h = realFileIO.open(p, 'create')
    expect(realFileIO.exists(p)).toBe(true)
    expect(h.size()).toBe(0)
    h.write(bytes(1, 2, 3, 4), 0)
    h.write(bytes(9, 9), 10)
    expect(h.size()).toBe(12)
    h.sync()

    const buf = new Uint8Array(12)
    expect(h.read(buf, 0)).toBe(12)
    expect([...buf]).toEqual([1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 9, 9])
    const tail = new Uint8Array(8)
    expect(h.read(tail, 8)).toBe(4)
    expect(h.read(tail, 100)).toBe(0)

    h.truncate(3)
    expect(h.size()).toBe(3)
    h.close()
    expect([...fs.readFileSync(p)]).toEqual([1, 2, 3])
  })

  it('writes and reads buffers larger than one syscall chunk', () => {
    const p = path.join(dir, 'big.db')
    const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) & 0xff)
    const h = realFileIO.open(p, 'create')
    h.write(data, 5)
    const back = new Uint8Array(data.length)
    expect(h.read(back, 5)).toBe(data.length)
    expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true)
    h.close()
  })

  it("fails with EEXIST when 'create' finds an existing file, ENOENT when 'rw' finds none", () => {
    const p = path.join(dir, 'a.db')
    fs.writeFileSync(p, 'x')
    expect(() => realFileIO.open(p, 'create')).toThrow(expect.objectContaining({ code: 'EEXIST' }))
    expect(() => realFileIO.open(path.join(dir, 'none'), 'rw')).toThrow(expect.objectContaining({ code: 'ENOENT' }))
  })

  it("refuses writes through an 'r' handle and any use after close; close is idempotent", () => {
    const p = path.join(dir, 'a.db')
    fs.writeFileSync(p, 'abc')
    const h = realFileIO.open(p, 'r')
    expect(() => h.write(bytes(1), 0)).toThrow(expect.objectContaining({ code: 'EBADF' }))
    expect(() => h.truncate(0)).toThrow(expect.objectContaining({ code: 'EBADF' }))
    h.close()
    h.close()
    expect(() => h.size()).toThrow(expect.objectContaining({ code: 'EBADF' }))
  })

  it('rejects negative or fractional positions instead of using the current file position', () => {
    const h = realFileIO.open(path.join(dir, 'a.db'), 'create')
    expect(() => h.write(bytes(1), -1)).toThrow(RangeError)
    expect(() => h.read(new Uint8Array(1), 0.5)).toThrow(RangeError)
    h.close()
  })

  it('renames, unlinks and syncs a directory', () => {
    const a = path.join(dir, 'a')
    const b = path.join(dir, 'b')
    realFileIO.open(a, 'create').close()
    realFileIO.rename(a, b)
    realFileIO.syncDir(dir)
    expect(realFileIO.exists(a)).toBe(false)
    expect(realFileIO.exists(b)).toBe(true)
    realFileIO.unlink(b)
    expect(realFileIO.exists(b)).toBe(false)
    expect(() => realFileIO.unlink(b)).toThrow(expect.objectContaining({ code: 'ENOENT' }))
  })

  it('gives a new fileId when another file is renamed over the path', () => {
    const p = path.join(dir, 'a.db')
    const tmp = path.join(dir, 'a.db.compact')
    fs.writeFileSync(p, 'old')
    const before = realFileIO.fileId(p)
    expect(realFileIO.fileId(p)).toBe(before)
    fs.writeFileSync(tmp, 'new')
    realFileIO.rename(tmp, p)
    expect(realFileIO.fileId(p)).not.toBe(before)
    expect(() => realFileIO.fileId(tmp)).toThrow(expect.objectContaining({ code: 'ENOENT' }))
  })

  it('passes errno errors through: a real ENOSPC from /dev/full', () => {
    if (!fs.existsSync('/dev/full')) return
    const h = realFileIO.open('/dev/full', 'rw')
    try {
      expect(() => h.write(bytes(1, 2, 3), 0)).toThrow(expect.objectContaining({ code: 'ENOSPC' }))
    } finally {
      h.close()
    }
  })
})
