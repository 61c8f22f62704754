/** Plain tables for human output (cli-table3 without its own colours). */
import Table from 'cli-table3'
import { paint } from './common.js'

/** No rule between body rows: compact, one line per row. */
const CHARS = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' }

/** A two-column table of label/value rows. */
export function fieldTable(rows: [string, string][]): string {
  const t = new Table({ chars: CHARS, style: { head: [], border: [] } })
  for (const [k, v] of rows) t.push({ [paint('bold', k)]: v })
  return t.toString()
}

/** A table with a header row. */
export function gridTable(head: string[], rows: string[][], align: ('left' | 'right')[] = []): string {
  const t = new Table({ head: head.map((h) => paint('bold', h)), chars: CHARS, style: { head: [], border: [] }, colAligns: align })
  for (const r of rows) t.push(r)
  return t.toString()
}

export function num(n: number): string {
  return n.toLocaleString('en-US')
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`
}

/** Cuts long text for a table cell. */
export function cut(s: string, max = 60): string {
  return s.length > max ? s.slice(0, max - 1) + '…' : s
}
