/**
 * Batch-norm training, as tfjs-layers does it, is tf.moments (four kernels) then tf.batchNorm,
 * and TF.js's gradients of those are built from some forty element-wise kernels, each a full pass
 * over the activations (one of them even tiles the variance to the activations' size). On the
 * native backend the patched ops run one kernel for the moments and one for the normalisation,
 * and their registered gradients need three passes: the per-channel sums every parameter gradient
 * is made of, dx = dy * scale / sqrt(variance + epsilon), and the moments' gradient. The formulas
 * are TF.js's (tfjs-core's FusedBatchNorm gradient and the derivative of its moments).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { BATCH_NORM, BATCH_NORM_GRAD_STATS, MOMENTS, MOMENTS_GRAD } from '../kernels/norm.js';
import { core, onNative } from './core.js';

type T = tf.Tensor;
const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}) => tf.engine().runKernel(name, inputs, attrs as NamedAttrMap);

/** A float32 per-channel statistic of x: rank 1, one value per channel (x's last axis). */
const perChannel = (t: unknown, C: number): t is T => t instanceof tf.Tensor && t.dtype === 'float32' && t.rank === 1 && t.size === C;

function registerGradients(): void {
  tf.registerGradient({
    kernelName: BATCH_NORM,
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved;
      const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
      const [s1, s2] = run(BATCH_NORM_GRAD_STATS, { dy: dy as T, x, mean }) as unknown as [T, T];
      const inv = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
      return {
        x: () => tf.mul(dy as T, tf.mul(scale, inv)),
        mean: () => tf.neg(tf.mul(s1, tf.mul(scale, inv))),
        variance: () => tf.mul(tf.mul(s2, scale), tf.mul(tf.mul(tf.mul(inv, inv), inv), tf.scalar(-0.5))),
        scale: () => tf.mul(s2, inv),
        offset: () => tf.clone(s1),
      };
    },
  });
  tf.registerGradient({
    kernelName: MOMENTS,
    inputsToSave: ['x'],
    outputsToSave: [true, false],
    gradFunc: (dys, saved) => {
      const [x, mean] = saved;
      const [dMean, dVariance] = dys as T[];
      return { x: () => run(MOMENTS_GRAD, { x, mean, dMean, dVariance }) as T };
    },
  });
}

export function patchBatchNorm(): void {
  registerGradients();

  const moments = core.moments;
  core.moments = tf.op({
    moments_: (x: T | tf.TensorLike, axis?: number | number[], keepDims = false) => {
      if (!onNative() || !(x instanceof tf.Tensor) || x.dtype !== 'float32' || x.rank < 2) return moments(x, axis, keepDims);
      const axes = tf.util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape).sort((a, b) => a - b);
      const allButLast = axes.length === x.rank - 1 && axes.every((a, i) => a === i);
      if (!allButLast) return moments(x, axis, keepDims);
      const [mean, variance] = run(MOMENTS, { x }) as unknown as [T, T];
      if (!keepDims) return { mean, variance };
      const shape = [...new Array<number>(x.rank - 1).fill(1), x.shape[x.rank - 1]];
      return { mean: tf.reshape(mean, shape), variance: tf.reshape(variance, shape) };
    },
  }) as typeof core.moments;

  // tf.batchNorm2d/3d/4d call the internal batchNorm, not the export: patch each.
  for (const name of ['batchNorm', 'batchNorm2d', 'batchNorm3d', 'batchNorm4d'] as const) {
    const original = core[name] as (...a: unknown[]) => T;
    const patched = (x: T, mean: T, variance: T, offset?: T, scale?: T, varianceEpsilon?: number): T => {
      const C = x instanceof tf.Tensor ? x.shape[x.rank - 1] : -1;
      const fits = onNative() && x instanceof tf.Tensor && x.dtype === 'float32' && x.rank >= 2 && [mean, variance, offset, scale].every((t) => perChannel(t, C));
      if (!fits) return original(x, mean, variance, offset, scale, varianceEpsilon);
      return run(BATCH_NORM, { x, mean, variance, offset: offset as T, scale: scale as T }, { varianceEpsilon: varianceEpsilon ?? 0.001 }) as T;
    };
    (core as unknown as Record<string, unknown>)[name] = tf.op({ [`${name}_`]: patched });
  }
}
