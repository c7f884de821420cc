/**
 * Which pixels drove a decision: the gradient of the chosen class's probability with respect to
 * each input pixel (Simonyan et al.'s saliency map), as magnitudes scaled to [0, 1]. One backward
 * pass, so it costs about as much as a training step on one image.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FASHION_SHAPE } from '../data/types.js';
import type { TestTimeAugmentation } from '../models/tta.js';

const FRAME_SIZE = FASHION_SHAPE[0] * FASHION_SHAPE[1] * FASHION_SHAPE[2];

/** |d prob[cls] / d pixel| for one 28x28 frame, divided by its maximum (all zeros stay zeros). */
export function saliencyMap(model: tfl.LayersModel, frame: Float32Array, cls: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(frame, [1, ...FASHION_SHAPE]);
    const outputs = (model.outputs[0].shape.at(-1) ?? 0) as number;
    // A one-hot product rather than gather: gather's gradient needs UnsortedSegmentSum, which the native backend lacks.
    const pick = tf.cast(tf.oneHot(tf.tensor1d([cls], 'int32'), outputs), 'float32');
    const grad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(model.apply(input, { training: false }) as tf.Tensor, pick)))(x);
    const mag = tf.abs(grad);
    const max = tf.max(mag).dataSync()[0];
    const values = mag.dataSync() as Float32Array;
    return max > 0 ? values.map((v) => v / max) : new Float32Array(values.length);
  });
}

export interface TopClassSaliency {
  /** The model's class probabilities for the frame. */
  probs: Float32Array;
  /** The most probable class (the lowest index among equals, as `topK` ranks them). */
  top: number;
  /** |d probs[top] / d pixel|, divided by its maximum (as `saliencyMap`); null when not asked for. */
  saliency: Float32Array | null;
}

/**
 * For a batch of 28x28 frames: each frame's probabilities, its top class, and the saliency map of
 * that class, from one forward and one backward pass over the whole batch. The forward pass runs
 * under the gradient tape; its probabilities pick each frame's top class (read back before the
 * backward pass), and the gradient of sum_i probs[i][top_i] is taken with respect to the batch. In
 * inference mode no layer mixes the frames of a batch (batch norm uses its moving statistics), so
 * frame i's slice of that gradient is exactly d probs[i][top_i] / d frame_i: `saliencyMap` of the
 * frame alone, up to the rounding of a different kernel schedule.
 *
 * With tta 'flip' the probabilities are the average over each frame and its mirror (as models/tta's
 * predictBatch, which `evaluate` and `predict` use), from one pass over both views, and the
 * saliency is the gradient of that average: the pixels that drove the decision actually reported.
 * With `withSaliency` false there is no tape and no backward pass: the probabilities alone, for
 * about half the cost.
 */
export function topClassSaliency(model: tfl.LayersModel, frames: readonly Float32Array[], tta: TestTimeAugmentation = 'none', withSaliency = true): TopClassSaliency[] {
  const n = frames.length;
  if (n === 0) return [];
  const classes = (model.outputs[0].shape.at(-1) ?? 0) as number;
  const batch = new Float32Array(n * FRAME_SIZE);
  frames.forEach((f, i) => {
    if (f.length !== FRAME_SIZE) throw new Error(`frame ${i} has ${f.length} values, not ${FRAME_SIZE}`);
    batch.set(f, i * FRAME_SIZE);
  });
  let probs: Float32Array = new Float32Array(0);
  const top = new Array<number>(n).fill(0);
  const forward = (input: tf.Tensor): tf.Tensor => {
    const out = tta === 'flip' ? averageWithMirror(model, input as tf.Tensor4D, n) : (model.apply(input, { training: false }) as tf.Tensor);
    probs = out.dataSync() as Float32Array;
    for (let i = 0; i < n; i++) for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + top[i]]) top[i] = c;
    return out;
  };
  if (!withSaliency) {
    // A tidy keeps the tensor its function returns: this one returns nothing, so nothing outlives it.
    tf.tidy(() => {
      forward(tf.tensor4d(batch, [n, ...FASHION_SHAPE]));
    });
    return frames.map((_, i) => ({ probs: probs.slice(i * classes, (i + 1) * classes), top: top[i], saliency: null }));
  }
  const mags = tf.tidy(() => {
    const x = tf.tensor4d(batch, [n, ...FASHION_SHAPE]);
    const grad = tf.grad((input: tf.Tensor) => {
      const out = forward(input);
      // The one-hot rows come from the values read back, not from ops on `out`: the tape sees a constant.
      const onehot = new Float32Array(n * classes);
      for (let i = 0; i < n; i++) onehot[i * classes + top[i]] = 1;
      return tf.sum(tf.mul(out, tf.tensor2d(onehot, [n, classes])));
    })(x);
    return tf.abs(grad).dataSync() as Float32Array;
  });
  return frames.map((_, i) => {
    const values = mags.slice(i * FRAME_SIZE, (i + 1) * FRAME_SIZE);
    let max = 0;
    for (let k = 0; k < values.length; k++) if (values[k] > max) max = values[k];
    return { probs: probs.slice(i * classes, (i + 1) * classes), top: top[i], saliency: max > 0 ? values.map((v) => v / max) : new Float32Array(FRAME_SIZE) };
  });
}

/** The softmax of a batch averaged with that of its mirror images, both views in one forward pass. */
function averageWithMirror(model: tfl.LayersModel, x: tf.Tensor4D, n: number): tf.Tensor {
  const both = model.apply(tf.concat([x, tf.reverse(x, 2)], 0), { training: false }) as tf.Tensor2D;
  const [plain, mirrored] = tf.split(both, [n, n], 0);
  return tf.mul(tf.add(plain, mirrored), 0.5);
}

/** A value in [0, 1] as an RGB colour of a black-red-yellow-white ramp (hot pixels stand out on any screen). */
export function heatColour(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v));
  return [Math.round(255 * Math.min(1, 3 * t)), Math.round(255 * Math.min(1, Math.max(0, 3 * t - 1))), Math.round(255 * Math.max(0, 3 * t - 2))];
}
