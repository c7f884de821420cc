/**
 * Exact k nearest neighbours by blocked squared-distance matrices on the TF.js backend.
 * Exact rather than approximate (no vantage-point tree): for N <= 10,000 a brute-force product is
 * a few seconds of matmul and leaves nothing to tune; both t-SNE's input similarities, UMAP's graph
 * and the quality figures use it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { centered } from './linalg.js';
import type { DenseMatrix, KnnGraph } from './types.js';

/** Floats of the largest distance block held at once (16 MB). */
const BLOCK_FLOATS = 4_000_000;

export function exactKnn(points: DenseMatrix, k: number): KnnGraph {
  const n = points.rows;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (k > n - 1) throw new RangeError(`k = ${k} needs more than ${n} points`);
  // Centring keeps |x|^2 + |y|^2 - 2xy from cancelling catastrophically in float32.
  const c = centered(points);
  const indices = new Int32Array(n * k);
  const distances = new Float32Array(n * k);
  const take = Math.min(n, k + 1);
  const blockRows = Math.max(1, Math.floor(BLOCK_FLOATS / n));
  const x = tf.tensor2d(c.data, [n, c.cols]);
  const sq = tf.tidy(() => tf.sum(tf.square(x), 1));
  try {
    for (let start = 0; start < n; start += blockRows) {
      const rows = Math.min(blockRows, n - start);
      const { values, indices: idx } = tf.tidy(() => {
        const block = tf.slice(x, [start, 0], [rows, c.cols]);
        const dot = tf.matMul(block, x, false, true);
        const blockSq = tf.reshape(tf.slice(sq, [start], [rows]), [rows, 1]);
        const d2 = tf.sub(tf.add(blockSq, tf.reshape(sq, [1, n])), tf.mul(dot, 2));
        return tf.topk(tf.neg(d2), take, true);
      });
      const v = values.dataSync();
      const ix = idx.dataSync();
      values.dispose();
      idx.dispose();
      for (let r = 0; r < rows; r++) {
        const self = start + r;
        let w = 0;
        for (let t = 0; t < take && w < k; t++) {
          const j = ix[r * take + t];
          if (j === self) continue;
          indices[self * k + w] = j;
          distances[self * k + w] = Math.sqrt(Math.max(0, -v[r * take + t]));
          w++;
        }
      }
    }
  } finally {
    x.dispose();
    sq.dispose();
  }
  return { n, k, indices, distances };
}

/** The first k neighbours of a graph with more. */
export function truncateKnn(g: KnnGraph, k: number): KnnGraph {
  if (k === g.k) return g;
  if (k > g.k) throw new RangeError(`cannot take ${k} neighbours from a ${g.k}-NN graph`);
  const indices = new Int32Array(g.n * k);
  const distances = new Float32Array(g.n * k);
  for (let i = 0; i < g.n; i++) {
    indices.set(g.indices.subarray(i * g.k, i * g.k + k), i * k);
    distances.set(g.distances.subarray(i * g.k, i * g.k + k), i * k);
  }
  return { n: g.n, k, indices, distances };
}
