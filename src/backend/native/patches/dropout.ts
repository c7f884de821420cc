/**
 * tf.dropout draws its mask with a JavaScript random generator (20-50 ns per value: at batch 256
 * that costs more than cnn1's convolutions). On the native backend the mask comes from a native
 * kernel that reproduces TF.js's generator bit for bit (see ../alea.ts), so masks and results are
 * the same as on wasm or cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { DROPOUT_MASK, type DropoutMaskAttrs } from '../kernels/training.js';
import { core, onNative } from './core.js';

/** TF.js's dropout_util.getNoiseShape. */
function noiseShapeOf(x: tf.Tensor, noiseShape?: number[]): number[] {
  if (noiseShape == null) return x.shape.slice();
  if (x.shape.length !== noiseShape.length || tf.util.arraysEqual(x.shape, noiseShape)) return noiseShape;
  return x.shape.map((d, i) => (noiseShape[i] == null ? d : noiseShape[i]));
}

export function patchDropout(): void {
  const original = core.dropout;
  function dropout_(x: tf.Tensor | tf.TensorLike, rate: number, noiseShape?: number[], seed?: number | string): tf.Tensor {
    if (!onNative() || !(x instanceof tf.Tensor) || x.dtype !== 'float32' || !(rate > 0 && rate < 1)) {
      return original(x, rate, noiseShape, seed);
    }
    // TF.js seeds its generator with String(seed ?? Math.random()): one Math.random() per call.
    const attrs: DropoutMaskAttrs = { shape: noiseShapeOf(x, noiseShape), keepProb: 1 - rate, seed: String(seed ?? Math.random()) };
    const multiplier = tf.engine().runKernel(DROPOUT_MASK, {}, attrs as unknown as NamedAttrMap) as tf.Tensor;
    return tf.mul(x, multiplier);
  }
  core.dropout = tf.op({ dropout_ });
}
