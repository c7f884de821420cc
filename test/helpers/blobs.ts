import type { DenseMatrix } from '../../src/explain/embed/types.js';
import { Rng } from '../../src/util/rng.js';

/** `perClass` seeded Gaussian points around each of `classes` random centres in d dims (centres far apart). */
export function gaussianBlobs(classes: number, perClass: number, d: number, seed: string, spread = 1): { x: DenseMatrix; labels: Uint8Array } {
  const rng = new Rng(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: d }, () => rng.normal() * 10));
  const n = classes * perClass;
  const data = new Float32Array(n * d);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let j = 0; j < d; j++) data[i * d + j] = centres[c][j] + spread * rng.normal();
  }
  return { x: { data, rows: n, cols: d }, labels };
}
