/** What evaluation produces; the types belong to the run record (eval.json), see src/runs. */
export type { ClassMetrics, EvalResult, EvalReport } from '../runs/types.js';
