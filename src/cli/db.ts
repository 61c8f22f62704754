/** Opening databases for the commands: reads read-only (no lock), writes with the lock. */
import { CambiumError, isCambiumError, open, type Database, type Snapshot } from '../index.js'

export type View = Database | Snapshot

/** Opens `file` read-only (it must exist). */
export function openForRead(file: string): Database {
  return open(file, { readOnly: true })
}

/** Opens `file` for writing; `create` makes it if missing, else `hint` says how to. */
export function openForWrite(file: string, create: boolean, hint?: string): Database {
  try {
    return open(file, { create })
  } catch (e) {
    if (isCambiumError(e, 'ERR_NOT_FOUND')) {
      throw new CambiumError('ERR_NOT_FOUND', `${file}: no such database file${hint ? ` (${hint})` : ''}`, { path: file, cause: e })
    }
    throw e
  }
}

/** The latest version, or a snapshot of version `at`. */
export function viewAt(db: Database, at: number | undefined): View {
  return at === undefined ? db : db.checkout(at)
}

/** Runs `fn` with the database open, closing it however `fn` ends. */
export async function withDb<T>(db: Database, fn: (db: Database) => Promise<T> | T): Promise<T> {
  try {
    return await fn(db)
  } finally {
    db.close()
  }
}
