import { readFileSync } from 'node:fs'
/** The installed version of a peer package in tools/bench/node_modules. */
export const versionOf = (pkg) => JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version
