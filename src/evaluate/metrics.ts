import { CLASS_NAMES, NUM_CLASSES } from '../data/types.js';
import type { ClassMetrics, EvalResult } from './types.js';

/** Keras clips probabilities to [eps, 1 - eps] before the log in categorical cross-entropy. */
const EPSILON = 1e-7;

export interface Scores {
  loss: number;
  acc: number;
}

/** Mean categorical cross-entropy and accuracy of softmax outputs `probs` (count x classes). */
export function lossAndAccuracy(probs: Float32Array, labels: Uint8Array, classes: number = NUM_CLASSES): Scores {
  const n = labels.length;
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    const p = Math.min(Math.max(probs[row + labels[i]], EPSILON), 1 - EPSILON);
    loss -= Math.log(p);
    if (argmaxRow(probs, row, classes) === labels[i]) correct++;
  }
  return { loss: n ? loss / n : NaN, acc: n ? correct / n : NaN };
}

export function argmaxRow(probs: Float32Array, offset: number, classes: number): number {
  let best = 0;
  for (let k = 1; k < classes; k++) if (probs[offset + k] > probs[offset + best]) best = k;
  return best;
}

export function predictedLabels(probs: Float32Array, classes: number = NUM_CLASSES): Uint8Array {
  const n = probs.length / classes;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = argmaxRow(probs, i * classes, classes);
  return out;
}

/** confusion[true][predicted] */
export function confusionMatrix(labels: Uint8Array, predicted: Uint8Array, classes: number = NUM_CLASSES): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predicted[i]]++;
  return m;
}

export function perClassMetrics(confusion: number[][]): ClassMetrics[] {
  const k = confusion.length;
  return confusion.map((row, c) => {
    const tp = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    let predictedAs = 0;
    for (let t = 0; t < k; t++) predictedAs += confusion[t][c];
    const precision = predictedAs ? tp / predictedAs : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { class: c, name: CLASS_NAMES[c] ?? String(c), precision, recall, f1, support };
  });
}

export function evaluationFromProbs(probs: Float32Array, labels: Uint8Array, at: { phase: EvalResult['phase']; epoch: number }): EvalResult {
  const { loss, acc } = lossAndAccuracy(probs, labels);
  const confusion = confusionMatrix(labels, predictedLabels(probs));
  const perClass = perClassMetrics(confusion);
  return {
    phase: at.phase,
    epoch: at.epoch,
    test_loss: loss,
    test_acc: acc,
    per_class: perClass,
    macro_f1: perClass.reduce((a, m) => a + m.f1, 0) / perClass.length,
    confusion,
    count: labels.length,
  };
}

/** The most probable class of each example and its probability. */
export function topPredictions(probs: Float32Array, classes: number = NUM_CLASSES): { label: number; prob: number }[] {
  const n = probs.length / classes;
  const out = new Array<{ label: number; prob: number }>(n);
  for (let i = 0; i < n; i++) {
    const label = argmaxRow(probs, i * classes, classes);
    out[i] = { label, prob: probs[i * classes + label] };
  }
  return out;
}
