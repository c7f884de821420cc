/** Writing a run's record files; every write is atomic or an append of one whole line. */
import { appendLine, makeDirs, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { errorMessage } from '../util/errors.js';
import { RunExistsError, RunNotFoundError } from './errors.js';
import { runPath } from './files.js';
import { toStoredPaths } from './record-paths.js';
import { refuseWhileTraining, withUpdateLock } from './lock.js';
import { hasRunConfig, readEvalReport, requireRunDir, requireRunDirOrNothing } from './read.js';
import type { EvalReport, EvalResult, HistoryRow, RunConfig } from './types.js';

/** Starts a run record: config.json and an empty history. Refuses a directory that holds a run. */
export async function createRunRecord(runDir: string, config: RunConfig): Promise<void> {
  await requireRunDirOrNothing(runDir);
  if (await hasRunConfig(runDir)) throw new RunExistsError(runDir);
  await makeDirs(runDir).catch((e: unknown) => {
    throw new RunNotFoundError(runDir, `cannot be made: ${errorMessage(e)}`);
  });
  await writeJsonAtomic(runPath(runDir, 'config'), toStoredPaths(runDir, config));
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

/**
 * The results with `result` added (replacing its phase's), in phase order. A final result older
 * than a training phase's scored an earlier model (a checkpoint evaluated before the run was
 * resumed) and is dropped: it would otherwise stand as the run's latest result.
 */
function withResult(results: readonly EvalResult[], result: EvalResult): EvalResult[] {
  const outdated = (r: EvalResult) => r.phase === 'final' && result.phase !== 'final' && r.epoch < result.epoch;
  return [...results.filter((r) => r.phase !== result.phase && !outdated(r)), result].sort((a, b) => PHASE_ORDER.indexOf(a.phase) - PHASE_ORDER.indexOf(b.phase));
}

export interface RecordEvaluationOptions {
  /** Refuse (RunLockedError) when a process is training the run: for a writer other than the training itself (`evaluate`). */
  unlessTraining?: boolean;
}

/**
 * Adds (or replaces) the result for its phase in eval.json. The read-modify-write holds
 * eval.json's update lock, so that a concurrent writer's result is not lost.
 */
export async function recordEvaluation(runDir: string, model: string, result: EvalResult, opts: RecordEvaluationOptions = {}): Promise<EvalReport> {
  await requireRunDir(runDir);
  return withUpdateLock(runPath(runDir, 'eval'), async () => {
    if (opts.unlessTraining) await refuseWhileTraining(runDir);
    const report = (await readEvalReport(runDir)) ?? { model, results: [] };
    report.results = withResult(report.results, result);
    await writeJsonAtomic(runPath(runDir, 'eval'), report);
    return report;
  });
}
