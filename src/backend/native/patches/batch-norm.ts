/**
 * Batch-norm training, as tfjs-layers does it, is tf.moments (four kernels) then tf.batchNorm,
 * and TF.js's gradients of those are built from some forty element-wise kernels, each a full pass
 * over the activations (one of them even tiles the variance to the activations' size). On the
 * native backend the patched ops run one kernel for the moments and one for the normalisation.
 *
 * When the normalisation uses the moments of its own input (training), its gradient is the
 * textbook batch-norm backward pass, through the statistics too: two passes over the activations
 * (the per-channel sums, then dx). The statistics then enter the normalisation as constants, so
 * the moments' own gradient is never needed. Otherwise each op has its own gradient: TF.js's
 * FusedBatchNorm formulas and the derivative of the moments.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import { BATCH_NORM, BATCH_NORM_GRAD_STATS, BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD_X, MOMENTS, MOMENTS_GRAD } from '../kernels/norm.js';
import { core, onNative, recordingGradients } from './core.js';

type T = tf.Tensor;
const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}) => tf.engine().runKernel(name, inputs, attrs as NamedAttrMap);

/** A float32 per-channel statistic of x: rank 1, one value per channel (x's last axis). */
const perChannel = (t: unknown, C: number): t is T => t instanceof tf.Tensor && t.dtype === 'float32' && t.rank === 1 && t.size === C;

/** The input each moments result was computed from (to recognise "normalised by its own moments"). */
const momentsOf = new WeakMap<T, { x: tf.DataId; variance: T }>();

/** The same data as t, as a new tensor that no recorded operation produced: a gradient stops there. */
function detached(ctx: NativeContext, t: T): T {
  ctx.backend.incRef(t.dataId);
  return tf.engine().makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }, ctx.backend);
}

function registerGradients(): void {
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAINING,
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved;
      const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
      const [s1, s2] = run(BATCH_NORM_GRAD_STATS, { dy: dy as T, x, mean }) as unknown as [T, T];
      return {
        x: () => run(BATCH_NORM_TRAINING_GRAD_X, { dy: dy as T, x, mean, variance, scale, s1, s2 }, { varianceEpsilon }) as T,
        scale: () => tf.mul(s2, tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)))),
        offset: () => tf.clone(s1),
        // Constants (detached): never asked for, but every input needs an entry.
        mean: () => tf.zerosLike(mean),
        variance: () => tf.zerosLike(variance),
      };
    },
  });
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

export function patchBatchNorm(ctx: NativeContext): void {
  registerGradients();

  const moments = core.moments;
  core.moments = tf.op({
    moments_: (x: T | tf.TensorLike, axis?: number | number[], keepDims = false) => {
      if (!onNative() || !(x instanceof tf.Tensor) || x.dtype !== 'float32' || x.rank < 2) return moments(x, axis, keepDims);
      const axes = tf.util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape).sort((a, b) => a - b);
      const allButLast = axes.length === x.rank - 1 && axes.every((a, i) => a === i);
      if (!allButLast) return moments(x, axis, keepDims);
      const [mean, variance] = run(MOMENTS, { x }) as unknown as [T, T];
      momentsOf.set(mean, { x: x.dataId, variance });
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
      const attrs = { varianceEpsilon: varianceEpsilon ?? 0.001 };
      const own = momentsOf.get(mean);
      if (recordingGradients() && own?.x === x.dataId && own.variance === variance) {
        const [m, v] = [detached(ctx, mean), detached(ctx, variance)];
        const y = run(BATCH_NORM_TRAINING, { x, mean: m, variance: v, offset: offset as T, scale: scale as T }, attrs) as T;
        tf.dispose([m, v]);
        return y;
      }
      return run(BATCH_NORM, { x, mean, variance, offset: offset as T, scale: scale as T }, attrs) as T;
    };
    (core as unknown as Record<string, unknown>)[name] = tf.op({ [`${name}_`]: patched });
  }
}
