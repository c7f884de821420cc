/**
 * `fashion-cnn evaluate`: a run's model on the 10,000 test images, recorded in its eval.json. A run
 * that a process is training is refused (before and again as the result is recorded): its
 * checkpoint changes under the evaluation, and a result recorded as phase "final" would claim a
 * model the run has not finished.
 */
import { initBackend, type BackendName } from '../backend/index.js';
import { loadFashionMnist, toExamples } from '../data/index.js';
import { loadRunModel, readEvalReport, readHistory, recordEvaluation, refuseWhileTraining } from '../runs/index.js';
import { evaluateModel } from './report.js';
import type { EvalResult } from './types.js';

export interface EvaluateRunOptions {
  runDir: string;
  backend?: BackendName;
  dataDir?: string;
  verify?: boolean;
  log?: (line: string) => void;
}

export interface EvaluateRunResult {
  result: EvalResult;
  /** True when the run had no final model yet and its latest checkpoint was evaluated. */
  fromCheckpoint: boolean;
}

export async function evaluateRun(opts: EvaluateRunOptions): Promise<EvaluateRunResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  await refuseWhileTraining(opts.runDir);
  const backend = await initBackend(opts.backend);
  log(`backend: ${backend.description}`);
  // The record is read before the weights, and every file before ten thousand images are scored.
  const { model, fromCheckpoint, config, tta } = await loadRunModel(opts.runDir);
  try {
    const epochs = config ? (await readHistory(opts.runDir)).length : 0;
    await readEvalReport(opts.runDir); // eval.json is rewritten at the end: a damaged one fails now
    if (fromCheckpoint) log(`note: ${opts.runDir} has no final model yet; evaluating its latest checkpoint`);
    const data = await loadFashionMnist({ dataDir: opts.dataDir, verify: opts.verify });
    const { result } = evaluateModel(model, toExamples(data.test), { phase: 'final', epoch: epochs }, tta);
    await recordEvaluation(opts.runDir, config?.model ?? model.name, result, { unlessTraining: true });
    return { result, fromCheckpoint };
  } finally {
    model.dispose();
  }
}
