/**
 * How well a space separates the classes: for every point, the fraction of its k nearest
 * neighbours with the same label, averaged. Comparing it between the original space and a
 * projection shows what the projection kept; comparing pixels with learned features shows what a
 * model learned.
 */
import type { EmbedQuality, KnnGraph } from './types.js';

export interface LabelAgreement {
  mean: number;
  perClass: number[];
}

export function knnLabelAgreement(g: KnnGraph, labels: ArrayLike<number>, k = g.k, numClasses = 10): LabelAgreement {
  if (k > g.k) throw new RangeError(`asked for ${k} neighbours of a ${g.k}-NN graph`);
  const sum = new Float64Array(numClasses);
  const count = new Float64Array(numClasses);
  let total = 0;
  for (let i = 0; i < g.n; i++) {
    let same = 0;
    for (let t = 0; t < k; t++) if (labels[g.indices[i * g.k + t]] === labels[i]) same++;
    const frac = same / k;
    total += frac;
    sum[labels[i]] += frac;
    count[labels[i]]++;
  }
  return {
    mean: g.n === 0 ? 0 : total / g.n,
    perClass: Array.from(sum, (s, c) => (count[c] === 0 ? 0 : s / count[c])),
  };
}

/** Mean fraction of each point's k neighbours in `a` that are also among its k neighbours in `b`. */
export function neighbourhoodPreserved(a: KnnGraph, b: KnnGraph, k = Math.min(a.k, b.k)): number {
  if (a.n !== b.n) throw new RangeError('graphs of different sizes');
  const mark = new Int32Array(a.n).fill(-1);
  let total = 0;
  for (let i = 0; i < a.n; i++) {
    for (let t = 0; t < k; t++) mark[b.indices[i * b.k + t]] = i;
    let kept = 0;
    for (let t = 0; t < k; t++) if (mark[a.indices[i * a.k + t]] === i) kept++;
    total += kept / k;
  }
  return a.n === 0 ? 0 : total / a.n;
}

export function embedQuality(original: KnnGraph, projected: KnnGraph, labels: ArrayLike<number>, k = 10): EmbedQuality {
  const o = knnLabelAgreement(original, labels, k);
  const p = knnLabelAgreement(projected, labels, k);
  return {
    k,
    original: o.mean,
    projection: p.mean,
    originalPerClass: o.perClass,
    projectionPerClass: p.perClass,
    neighbourhoodPreserved: neighbourhoodPreserved(original, projected, k),
  };
}
