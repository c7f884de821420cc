import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, type Examples } from '../data/types.js';

/** Inference batch: large enough to amortise per-call overhead, small enough for little memory. */
export const PREDICT_BATCH = 1000;

/** Softmax outputs for every example (count x classes), computed in inference mode, batch by batch. */
export function predictProbs(model: tfl.LayersModel, examples: Pick<Examples, 'x' | 'count'>, batchSize = PREDICT_BATCH): Float32Array {
  const classes = (model.outputs[0].shape[1] as number) ?? 10;
  const out = new Float32Array(examples.count * classes);
  const size = IMAGE_SIZE * IMAGE_SIZE;
  for (let start = 0; start < examples.count; start += batchSize) {
    const n = Math.min(batchSize, examples.count - start);
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(examples.x.subarray(start * size, (start + n) * size), [n, IMAGE_SIZE, IMAGE_SIZE, 1]);
      return model.predict(x, { batchSize: n }) as tf.Tensor;
    });
    out.set(probs.dataSync() as Float32Array, start * classes);
    probs.dispose();
  }
  return out;
}
