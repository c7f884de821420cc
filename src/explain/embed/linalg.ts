/**
 * The few dense products the embedding stage needs, done by the TF.js backend (wasm/native
 * matmul is ~10x faster than a JavaScript loop), plus small float64 helpers.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DenseMatrix } from './types.js';

/** Column means (float64). */
export function columnMeans(m: DenseMatrix): Float64Array {
  const { data, rows, cols } = m;
  const mean = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) mean[j] += data[o + j];
  }
  for (let j = 0; j < cols; j++) mean[j] /= Math.max(1, rows);
  return mean;
}

/** A copy with the column means subtracted. */
export function centered(m: DenseMatrix, mean = columnMeans(m)): DenseMatrix {
  const out = new Float32Array(m.data.length);
  for (let i = 0; i < m.rows; i++) {
    const o = i * m.cols;
    for (let j = 0; j < m.cols; j++) out[o + j] = m.data[o + j] - mean[j];
  }
  return { data: out, rows: m.rows, cols: m.cols };
}

/** Xᵀ X as a cols x cols float64 array (row-major). */
export function gram(m: DenseMatrix): Float64Array {
  const out = tf.tidy(() => {
    const x = tf.tensor2d(m.data, [m.rows, m.cols]);
    return tf.matMul(x, x, true, false);
  });
  try {
    return Float64Array.from(out.dataSync());
  } finally {
    out.dispose();
  }
}

/** A (rows x inner) times B (inner x cols, float64 row-major), in float64: used for small B. */
export function multiplySmall(a: DenseMatrix, b: Float64Array, cols: number): Float64Array {
  const { data, rows, cols: inner } = a;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const ai = i * inner;
    const oi = i * cols;
    for (let k = 0; k < inner; k++) {
      const v = data[ai + k];
      if (v === 0) continue;
      const bk = k * cols;
      for (let j = 0; j < cols; j++) out[oi + j] += v * b[bk + j];
    }
  }
  return out;
}
