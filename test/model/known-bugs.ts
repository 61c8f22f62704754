/**
 * Workarounds for open engine bugs, so the properties keep finding other problems while
 * these wait for a fix. Each has a regression test in regressions.test.ts that fails until it is
 * fixed. Once fixed, set the flag to false: the properties then cover the case again.
 */
export const KNOWN_BUGS = {
  /** BUG-1: range/keys/values/count with a Buffer `prefix` select nothing and increment the
   *  caller's buffer (prefixEnd() uses Buffer#slice, a view). Workaround: pass the prefix as a
   *  plain Uint8Array. */
  prefixBufferMutated: false, // fixed in 9ac4955
  /** BUG-2: own() (encoding.ts) uses Buffer#slice, a view, so put/batch/tx.put keep the
   *  caller's Buffer: changing it afterwards changes the cached tree. Workaround: never
   *  scribble over Buffers handed to writes. */
  writeArgsAliased: false, // fixed in 9ac4955
  /** BUG-3: an iterator (range/keys/values) reads the caller's bound buffers lazily, at its
   *  first next(), so changing a bound buffer after the call changes what it yields.
   *  Workaround: never overwrite bounds of a live iterator. */
  iteratorBoundsAliased: false, // fixed in 9ac4955
}
