// lmdb-js through its async write API; see lmdb.mjs.
import { lmdbAdapter } from './lmdb.mjs'
export default lmdbAdapter({ async: true })
