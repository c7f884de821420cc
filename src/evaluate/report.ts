import type * as tfl from '@tensorflow/tfjs-layers';
import type { Examples } from '../data/types.js';
import { evaluationFromProbs } from './metrics.js';
import { predictProbs } from './predict.js';
import type { TestTimeAugmentation } from '../models/tta.js';
import type { EvalResult } from './types.js';
import { metric, percent } from '../util/format.js';

export interface Evaluation {
  result: EvalResult;
  probs: Float32Array;
}

export function evaluateModel(model: tfl.LayersModel, test: Examples, at: { phase: EvalResult['phase']; epoch: number }, tta: TestTimeAugmentation = 'none'): Evaluation {
  const probs = predictProbs(model, test, { tta });
  return { result: evaluationFromProbs(probs, test.y, at), probs };
}

/** The evaluation as text; `of` names what was evaluated (default: when, "after <phase> epoch <n>"). */
export function formatEvalResult(r: EvalResult, of = `after ${r.phase} epoch ${r.epoch}`): string {
  const lines = [
    `test loss ${metric(r.test_loss)}  test accuracy ${percent(r.test_acc)}  (${r.count} images, ${of})`,
    `${'class'.padEnd(12)} precision  recall     f1  support`,
    ...r.per_class.map(
      (c) => `${c.name.padEnd(12)} ${c.precision.toFixed(3).padStart(9)} ${c.recall.toFixed(3).padStart(7)} ${c.f1.toFixed(3).padStart(6)} ${String(c.support).padStart(8)}`,
    ),
    `${'macro F1'.padEnd(12)} ${''.padStart(9)} ${''.padStart(7)} ${r.macro_f1.toFixed(3).padStart(6)}`,
  ];
  return lines.join('\n');
}
