import { it } from 'vitest'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { open } from '../../src/index.js'
const show = (what: string, f: () => unknown) => { try { console.log(what, '->', f()) } catch (e) { console.log(what, 'THROWS', (e as Error).name, (e as {code?: string}).code, (e as Error).message) } }
it('scratch', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scr-'))
  const file = path.join(dir, 'a.db')
  const db = open(file, { durability: 'none' })
  db.put('k', 'v')
  show('close inside tx', () => db.transaction((tx) => { tx.put('a', '1'); db.close(); return 1 }))
  show('isOpen', () => db.isOpen)
  show('lock file exists', () => fs.existsSync(file + '.lock'))
  const db2 = open(file, { durability: 'none' })
  show('reopen version', () => db2.version)
  show('get a', () => db2.get('a'))
  show('nested tx', () => db2.transaction(() => db2.transaction(() => 1)))
  show('rollback in tx', () => db2.transaction(() => db2.rollback(0)))
  show('checkout in tx', () => db2.transaction(() => db2.checkout(0).count()))
  show('history in tx', () => db2.transaction(() => [...db2.history()].length))
  show('tx returns promise', () => db2.transaction((tx) => { tx.put('p', '1'); return Promise.resolve(1) }))
  show('version after promise tx', () => db2.version)
  show('get p', () => db2.get('p'))
  show('range limit -1', () => [...db2.range({ limit: -1 })])
  show('count gt>lt', () => db2.count({ gt: 'z', lt: 'a' }))
  show('history gt>lt', () => [...db2.history({ gt: 5, lt: 1 })].length)
  show('checkout 1.5', () => db2.checkout(1.5))
  show('rollback to current', () => db2.rollback(db2.version))
  show('big value', () => db2.put('big', Buffer.alloc(5 << 20)))
  show('get big', () => db2.get('big')!.length)
  db2.close()
  const r = open(file, { readOnly: true })
  show('readonly big', () => r.get('big')!.length)
  show('readonly history', () => [...r.history()].map(h => [h.version, h.entries, h.bytes, h.rollbackOf]))
  r.close()
})
