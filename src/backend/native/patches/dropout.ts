/**
 * tf.dropout draws its mask with a JavaScript random generator (20-50 ns per value: at batch 256
 * that costs more than cnn1's convolutions), then multiplies in two more kernels. On the native
 * backend one kernel draws the mask (reproducing TF.js's generator bit for bit, see ../alea.ts),
 * applies it and keeps it as bits (1/32 of a float mask) for the gradient, which applies the same
 * mask to dy. Masks and results are the same as on wasm or cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { DROPOUT, DROPOUT_APPLY_MASK, DROPOUT_MASK, type DropoutAttrs, type DropoutMaskAttrs } from '../kernels/training.js';
import { core, onNative } from './core.js';

/** TF.js's dropout_util.getNoiseShape. */
function noiseShapeOf(x: tf.Tensor, noiseShape?: number[]): number[] {
  if (noiseShape == null) return x.shape.slice();
  if (x.shape.length !== noiseShape.length || tf.util.arraysEqual(x.shape, noiseShape)) return noiseShape;
  return x.shape.map((d, i) => (noiseShape[i] == null ? d : noiseShape[i]));
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) => tf.engine().runKernel(name, inputs, attrs as NamedAttrMap) as tf.Tensor;

export function patchDropout(): void {
  // Dropout is linear in x with a fixed mask: its gradient is the same mask applied to dy.
  tf.registerGradient({
    kernelName: DROPOUT,
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => ({ x: () => run(DROPOUT_APPLY_MASK, { x: (dys as tf.Tensor[])[0], bits: saved[0] }, attrs) }),
  });

  const original = core.dropout;
  function dropout_(x: tf.Tensor | tf.TensorLike, rate: number, noiseShape?: number[], seed?: number | string): tf.Tensor {
    if (!onNative() || !(x instanceof tf.Tensor) || x.dtype !== 'float32' || !(rate > 0 && rate < 1)) {
      return original(x, rate, noiseShape, seed);
    }
    // TF.js seeds its generator with String(seed ?? Math.random()): one Math.random() per call.
    const shape = noiseShapeOf(x, noiseShape);
    const seedText = String(seed ?? Math.random());
    if (tf.util.arraysEqual(shape, x.shape)) {
      const attrs: DropoutAttrs = { keepProb: 1 - rate, seed: seedText };
      const [out, bits] = tf.engine().runKernel(DROPOUT, { x }, attrs as unknown as NamedAttrMap) as tf.Tensor[];
      bits.dispose(); // the gradient keeps its own reference when one is being recorded
      return out;
    }
    const attrs: DropoutMaskAttrs = { shape, keepProb: 1 - rate, seed: seedText };
    return tf.mul(x, run(DROPOUT_MASK, {}, attrs));
  }
  core.dropout = tf.op({ dropout_ });
}
