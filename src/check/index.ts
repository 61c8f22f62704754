/** Offline tools over a database file: a full consistency check and an inspection report. */
export { checkDatabase, type CheckOptions, type CheckResult } from './check.js'
export { inspectDatabase, type InspectOptions, type InspectReport, type SizedKey } from './inspect.js'
export type { CheckProblem, ProblemKind } from './report.js'
