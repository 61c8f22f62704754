/** Maps errno errors from the file layer to CambiumError codes. */
import { CambiumError } from '../errors.js'

const NO_SPACE = new Set(['ENOSPC', 'EFBIG', 'EDQUOT'])

export function ioError(e: unknown, what: string, path: string): CambiumError {
  if (e instanceof CambiumError) return e
  const code = (e as { code?: unknown } | null)?.code
  if (typeof code === 'string' && NO_SPACE.has(code)) {
    return new CambiumError('ERR_NO_SPACE', `${path}: ${what} failed: no space left (${code}); free disk space and retry`, {
      path,
      cause: e,
    })
  }
  const detail = typeof code === 'string' ? code : e instanceof Error ? e.message : String(e)
  return new CambiumError('ERR_IO', `${path}: ${what} failed (${detail})`, { path, cause: e })
}
