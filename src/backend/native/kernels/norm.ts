/**
 * FusedBatchNorm (normalisation with given statistics), and the kernels of batch-norm training
 * (see ../patches/batch-norm.ts), channels last (native/src/norm.cc).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FusedBatchNormAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import { CONV_RECIPE, deferConv, type ConvRecipe } from './conv.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

/**
 * Inference batch norm right after a convolution layer: folded into the convolution as a
 * per-channel scale and shift after its activation (a oneDNN post-op), so that the layer's output
 * is written once, normalised, instead of written, read and written again. The result is again a
 * deferred convolution, so a max pooling that follows still pools it in cache.
 */
function foldIntoConv(ctx: NativeContext, x: TensorInfo, conv: ConvRecipe, stats: (TensorInfo | undefined)[], eps: number): TensorInfo {
  const C = conv.info.outChannels;
  // A fresh view each time: allocating can grow the heap, which replaces its buffer.
  const heapF32 = () => (ctx.backend.wasm as unknown as { HEAPF32: Float32Array }).HEAPF32;
  const heap = heapF32();
  const read = (t: TensorInfo | undefined, fallback: number) => {
    if (!t) return () => fallback;
    const at = ctx.offset(t) / 4, len = sizeOf(t.shape);
    return (c: number) => heap[at + (len === 1 ? 0 : c)];
  };
  const [mean, variance, offset, scale] = [read(stats[0], 0), read(stats[1], 1), read(stats[2], 0), read(stats[3], 1)];
  const values = new Float32Array(2 * C);
  for (let c = 0; c < C; c++) {
    const k = scale(c) / Math.sqrt(variance(c) + eps);
    values[c] = k;
    values[C + c] = offset(c) - mean(c) * k;
  }
  const scaleShift = ctx.backend.makeOutput([2, C], 'float32');
  heapF32().set(values, ctx.offset(scaleShift) / 4);
  const out = ctx.backend.makeOutput([...x.shape], 'float32');
  deferConv(ctx, out, { ...conv, scaleShift });
  ctx.backend.disposeData(scaleShift.dataId); // the recipe holds it now
  return out;
}

export const fusedBatchNorm: NativeKernel = {
  kernelName: 'FusedBatchNorm',
  handlesDeferredInputs: true,
  run(ctx, args, fallback) {
    const { x, mean, variance, offset, scale } = inputsOf(args, 'x', 'mean', 'variance', 'offset', 'scale');
    const { varianceEpsilon } = attrsOf<FusedBatchNormAttrs>(args);
    const n = sizeOf(x.shape);
    const C = x.shape[x.shape.length - 1] ?? 1;
    const fits = (t: TensorInfo | undefined) => !t || sizeOf(t.shape) === C || sizeOf(t.shape) === 1;
    const conv = ctx.deferred.get(x.dataId) as ConvRecipe | undefined;
    const stats = [mean, variance, offset, scale];
    for (const t of stats) if (t) ctx.deferred.materialize(t.dataId);
    if (!allFloat32(x, mean, variance, offset, scale) || n === 0 || !stats.every(fits)) {
      ctx.deferred.materialize(x.dataId);
      return fallback(args);
    }
    if (conv?.kind === CONV_RECIPE && conv.scaleShift === null && tf.engine().state.gradientDepth === 0 && tf.util.arraysEqual(x.shape, conv.info.outShape)) {
      return foldIntoConv(ctx, x, conv, stats, varianceEpsilon);
    }
    ctx.deferred.materialize(x.dataId);
    const out = ctx.backend.makeOutput([...x.shape], 'float32');
    const len = (t: TensorInfo | undefined) => (t ? sizeOf(t.shape) : 0);
    ctx.invoke('batchNorm', {
      x: ctx.offset(x), mean: ctx.offset(mean), variance: ctx.offset(variance), offset: ctx.offsetOr(offset), scale: ctx.offsetOr(scale), y: ctx.offset(out),
      rows: n / C, channels: C, epsilon: varianceEpsilon,
      meanLength: len(mean), varianceLength: len(variance), offsetLength: len(offset), scaleLength: len(scale),
    });
    return out;
  },
};

export const BATCH_NORM = 'FashionCnnBatchNorm';
export const MOMENTS = 'FashionCnnMoments';
export const BATCH_NORM_GRAD_STATS = 'FashionCnnBatchNormGradStats';
export const MOMENTS_GRAD = 'FashionCnnMomentsGrad';
export const BATCH_NORM_TRAINING = 'FashionCnnBatchNormTraining';
export const BATCH_NORM_TRAINING_GRAD_X = 'FashionCnnBatchNormTrainingGradX';

/** FusedBatchNorm under a name of our own, whose gradient is ours. */
const batchNormTrain: NativeKernel = { ...fusedBatchNorm, kernelName: BATCH_NORM, fallbackName: 'FusedBatchNorm' };

/** FusedBatchNorm under a second name: normalisation by the batch's own statistics (see the patch). */
const batchNormTraining: NativeKernel = { ...fusedBatchNorm, kernelName: BATCH_NORM_TRAINING, fallbackName: 'FusedBatchNorm' };

/** [rows, channels] view of a channels-last tensor. */
function rowsAndChannels(shape: readonly number[]): [number, number] {
  const C = shape[shape.length - 1] ?? 1;
  return [C === 0 ? 0 : sizeOf(shape) / C, C];
}

/** Per-channel [mean, variance] over every axis but the last. */
const moments: NativeKernel = {
  kernelName: MOMENTS,
  run(ctx, args) {
    const { x } = inputsOf(args, 'x');
    const [rows, C] = rowsAndChannels(x.shape);
    const mean = ctx.backend.makeOutput([C], 'float32');
    const variance = ctx.backend.makeOutput([C], 'float32');
    ctx.invoke('moments', { x: ctx.offset(x), mean: ctx.offset(mean), variance: ctx.offset(variance), rows, channels: C });
    return [mean, variance];
  },
};

/** Per-channel [sum(dy), sum(dy * (x - mean))]. */
const gradStats: NativeKernel = {
  kernelName: BATCH_NORM_GRAD_STATS,
  run(ctx, args) {
    const { dy, x, mean } = inputsOf(args, 'dy', 'x', 'mean');
    const [rows, C] = rowsAndChannels(x.shape);
    const s1 = ctx.backend.makeOutput([C], 'float32');
    const s2 = ctx.backend.makeOutput([C], 'float32');
    ctx.invoke('batchNormGradStats', { dy: ctx.offset(dy), x: ctx.offset(x), mean: ctx.offset(mean), sumDy: ctx.offset(s1), sumDyCentred: ctx.offset(s2), rows, channels: C });
    return [s1, s2];
  },
};

/** dx of the moments: dMean / rows + dVariance * 2 (x - mean) / rows. */
const momentsGrad: NativeKernel = {
  kernelName: MOMENTS_GRAD,
  run(ctx, args) {
    const { x, mean, dMean, dVariance } = inputsOf(args, 'x', 'mean', 'dMean', 'dVariance');
    const [rows, C] = rowsAndChannels(x.shape);
    const dx = ctx.backend.makeOutput([...x.shape], 'float32');
    ctx.invoke('momentsGrad', { x: ctx.offset(x), mean: ctx.offset(mean), dMean: ctx.offset(dMean), dVariance: ctx.offset(dVariance), dx: ctx.offset(dx), rows, channels: C });
    return dx;
  },
};

/** dx of batch norm by the batch's statistics, including the path through the statistics. */
const trainingGradX: NativeKernel = {
  kernelName: BATCH_NORM_TRAINING_GRAD_X,
  run(ctx, args) {
    const { dy, x, mean, variance, scale, s1, s2 } = inputsOf(args, 'dy', 'x', 'mean', 'variance', 'scale', 's1', 's2');
    const { varianceEpsilon } = attrsOf<FusedBatchNormAttrs>(args);
    const [rows, C] = rowsAndChannels(x.shape);
    const dx = ctx.backend.makeOutput([...x.shape], 'float32');
    ctx.invoke('batchNormTrainingGradX', {
      dy: ctx.offset(dy), x: ctx.offset(x), mean: ctx.offset(mean), variance: ctx.offset(variance), scale: ctx.offsetOr(scale),
      sumDy: ctx.offset(s1), sumDyCentred: ctx.offset(s2), dx: ctx.offset(dx), rows, channels: C, epsilon: varianceEpsilon,
    });
    return dx;
  },
};

export const normKernels: NativeKernel[] = [fusedBatchNorm, batchNormTrain, batchNormTraining, moments, gradStats, momentsGrad, trainingGradX];
