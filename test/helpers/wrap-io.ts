/**
 * The real file layer with some methods of each handle it opens replaced, for tests that
 * watch or fail what the engine asks of a real file: `over(h)` gives the replacements for
 * handle h; read, write, sync, truncate, size and close pass through, and the optional
 * methods (syncAsync, closeSoon, syncHelper) are absent unless `over` gives them. It is not
 * `native`: work the engine would hand to another thread opening the files itself (compaction)
 * stays where the wrapper sees it.
 */
import type { FileHandle, FileIO } from '../../src/io/file-io.js'
import { realFileIO } from '../../src/io/real-file-io.js'

export function wrapRealIO(over: (h: FileHandle) => Partial<FileHandle>): FileIO {
  return {
    ...realFileIO,
    native: false,
    open(p, mode) {
      const h = realFileIO.open(p, mode)
      const through: FileHandle = {
        read: (b, pos) => h.read(b, pos),
        write: (b, pos) => h.write(b, pos),
        sync: () => h.sync(),
        truncate: (n) => h.truncate(n),
        size: () => h.size(),
        close: () => h.close(),
      }
      return { ...through, ...over(h) }
    },
  }
}
