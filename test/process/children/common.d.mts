// Types for common.mjs (imported by the TypeScript test).
export interface View {
  count(): number
  get(key: string): unknown
  range(): Iterable<[unknown, unknown]>
}
export interface Writable {
  readonly version: number
  batch(ops: readonly ({ type: 'put'; key: string; value: string } | { type: 'del'; key: string })[]): number
  transaction<R>(fn: (tx: { put(key: string, value: string): void }) => R): R
}
export const GROUPS: number
export function key(v: number): string
export function valueLength(v: number): number
export function value(v: number): string
export function expectedCount(v: number): number
export function groupValue(v: number, j: number): string | undefined
export function expectedEntries(v: number): Generator<[string, string]>
export function commitVersion(db: Writable, v: number): number
export function checkVersion(view: View, v: number, full?: boolean): void
export function onStdinLines(onLine: (line: string) => void): void
export function say(line: string): void
export function describeError(e: unknown): string
