/** Writing a run's record files; every write is atomic or an append of one whole line. */
import { appendLine, makeDirs, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { errorMessage } from '../util/errors.js';
import { RunExistsError, RunNotFoundError } from './errors.js';
import { runPath } from './files.js';
import { hasRunConfig, readEvalReport, requireRunDirOrNothing } from './read.js';
import type { EvalReport, EvalResult, HistoryRow, RunConfig } from './types.js';

/** Starts a run record: config.json and an empty history. Refuses a directory that holds a run. */
export async function createRunRecord(runDir: string, config: RunConfig): Promise<void> {
  await requireRunDirOrNothing(runDir);
  if (await hasRunConfig(runDir)) throw new RunExistsError(runDir);
  await makeDirs(runDir).catch((e: unknown) => {
    throw new RunNotFoundError(runDir, `cannot be made: ${errorMessage(e)}`);
  });
  await writeJsonAtomic(runPath(runDir, 'config'), config);
  await writeFileAtomic(runPath(runDir, 'history'), '');
}

export async function appendHistoryRow(runDir: string, row: HistoryRow): Promise<void> {
  await appendLine(runPath(runDir, 'history'), JSON.stringify(row));
}

/** Replaces the whole history (a resumed run drops rows written after its checkpoint). */
export async function rewriteHistory(runDir: string, rows: readonly HistoryRow[]): Promise<void> {
  await writeFileAtomic(runPath(runDir, 'history'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
}

const PHASE_ORDER: readonly EvalResult['phase'][] = ['base', 'augment', 'final'];

/** Adds (or replaces) the result for its phase in eval.json, keeping phase order. */
export async function recordEvaluation(runDir: string, model: string, result: EvalResult): Promise<EvalReport> {
  const report = (await readEvalReport(runDir)) ?? { model, results: [] };
  report.results = [...report.results.filter((r) => r.phase !== result.phase), result].sort((a, b) => PHASE_ORDER.indexOf(a.phase) - PHASE_ORDER.indexOf(b.phase));
  await writeJsonAtomic(runPath(runDir, 'eval'), report);
  return report;
}
