/**
 * Which pixels drove a decision: the gradient of the chosen class's probability with respect to
 * each input pixel (Simonyan et al.'s saliency map), as magnitudes scaled to [0, 1]. One backward
 * pass, so it costs about as much as a training step on one image.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FASHION_SHAPE } from '../data/types.js';

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

/** A value in [0, 1] as an RGB colour of a black-red-yellow-white ramp (hot pixels stand out on any screen). */
export function heatColour(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v));
  return [Math.round(255 * Math.min(1, 3 * t)), Math.round(255 * Math.min(1, Math.max(0, 3 * t - 1))), Math.round(255 * Math.max(0, 3 * t - 2))];
}
