/**
 * `fashion-cnn evaluate --ensemble`: several runs' averaged probabilities on the 10,000 test images,
 * beside each member's own score. Each member is scored on its own and the probabilities averaged
 * here, which is what the ensemble model computes (models/ensemble.ts) and gives the members'
 * scores at no extra cost. Nothing is recorded: the ensemble has no run directory of its own.
 */
import { initBackend, type BackendName } from '../backend/index.js';
import { loadFashionMnist, toExamples } from '../data/index.js';
import { ensembleRunDirs, loadEnsembleMembers } from '../runs/index.js';
import { lossAndAccuracy, evaluationFromProbs } from './metrics.js';
import { predictProbs } from './predict.js';
import type { EvalResult } from './types.js';
import type { TestTimeAugmentation } from '../models/tta.js';
import { metric, percent } from '../util/format.js';

export interface EvaluateEnsembleOptions {
  /** Run directories and folders of runs (a sweep's folder), as `--ensemble` lists them. */
  entries: string[];
  backend?: BackendName;
  dataDir?: string;
  verify?: boolean;
  log?: (line: string) => void;
}

export interface EnsembleMemberScore {
  runDir: string;
  model: string;
  test_loss: number;
  test_acc: number;
}

export interface EnsembleEvaluation {
  /** The ensemble's evaluation, as `evaluate` gives a run's (phase "final", epoch 0: it was not trained as one). */
  result: EvalResult;
  tta: TestTimeAugmentation;
  members: EnsembleMemberScore[];
}

export async function evaluateEnsemble(opts: EvaluateEnsembleOptions): Promise<EnsembleEvaluation> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const runDirs = await ensembleRunDirs(opts.entries, log);
  const backend = await initBackend(opts.backend);
  log(`backend: ${backend.description}`);
  const loaded = await loadEnsembleMembers(runDirs);
  try {
    const data = await loadFashionMnist({ dataDir: opts.dataDir, verify: opts.verify });
    const test = toExamples(data.test);
    const tta = loaded[0].tta;
    let sum: Float32Array | null = null;
    const members: EnsembleMemberScore[] = [];
    for (const [i, m] of loaded.entries()) {
      const probs = predictProbs(m.model, test, { tta });
      const { loss, acc } = lossAndAccuracy(probs, test.y);
      members.push({ runDir: runDirs[i], model: m.config?.model ?? m.model.name, test_loss: loss, test_acc: acc });
      log(`ensemble: member ${i + 1} of ${loaded.length} (${runDirs[i]}): test accuracy ${percent(acc)}`);
      if (!sum) sum = probs;
      else for (let k = 0; k < sum.length; k++) sum[k] += probs[k];
    }
    const mean = sum!.map((v) => v / loaded.length);
    return { result: evaluationFromProbs(mean, test.y, { phase: 'final', epoch: 0 }), tta, members };
  } finally {
    for (const m of loaded) m.model.dispose();
  }
}

/** The members' scores, then the ensemble's line; the per-class table follows (report.ts). */
export function formatMembers(e: EnsembleEvaluation): string {
  const MEAN = 'mean of members';
  const width = Math.max(MEAN.length, ...e.members.map((m) => m.runDir.length));
  const modelWidth = Math.max('model'.length, ...e.members.map((m) => m.model.length));
  const line = (name: string, model: string, acc: string, rest = ''): string =>
    `${name.padEnd(width)}  ${model.padEnd(modelWidth)}  ${acc.padStart(8)}${rest === '' ? '' : `  ${rest}`}`;
  const meanAcc = e.members.reduce((a, m) => a + m.test_acc, 0) / e.members.length;
  return [
    line('member', 'model', 'test acc', 'test loss'),
    ...e.members.map((m) => line(m.runDir, m.model, percent(m.test_acc), metric(m.test_loss))),
    line(MEAN, '', percent(meanAcc)),
    line('ensemble', '', percent(e.result.test_acc), `${metric(e.result.test_loss)}  (${e.members.length} members, test-time augmentation: ${e.tta})`),
  ].join('\n');
}
