/** MaxPool and MaxPoolGrad on NHWC tensors (native/src/pool.cc). */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type MaxPoolAttrs, type MaxPoolGradAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { Recipe } from '../pending.js';
import type { StructArgs } from '../param-layout.js';
import { CONV_RECIPE, convForwardArgs, type ConvRecipe } from './conv.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

/**
 * The pooling geometry (struct poolGeometry), or null for windows that start before the image,
 * which the native kernels do not handle.
 */
function poolGeometry(c: backend_util.Conv2DInfo): StructArgs<'poolGeometry'> | null {
  const { top, left } = c.padInfo;
  if (top < 0 || left < 0) return null;
  return {
    N: c.batchSize, H: c.inHeight, W: c.inWidth, C: c.inChannels, OH: c.outHeight, OW: c.outWidth, KH: c.filterHeight, KW: c.filterWidth,
    SH: c.strideHeight, SW: c.strideWidth, DH: c.dilationHeight, DW: c.dilationWidth, padT: top, padL: left,
  };
}

const maxPool: NativeKernel = {
  kernelName: 'MaxPool',
  handlesDeferredInputs: true,
  run(ctx, args, fallback) {
    const { x } = inputsOf(args, 'x');
    const { filterSize, strides, pad, dimRoundingMode } = attrsOf<MaxPoolAttrs>(args);
    const conv = ctx.deferred.get(x.dataId) as ConvRecipe | undefined;
    const plain = () => {
      ctx.deferred.materialize(x.dataId);
      return fallback(args);
    };
    if (!allFloat32(x) || x.shape.length !== 4) return plain();
    const info = backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const geometry = poolGeometry(info);
    if (sizeOf(info.outShape) === 0 || sizeOf(x.shape) === 0 || !geometry) return plain();
    const out = ctx.backend.makeOutput(info.outShape, 'float32');
    if (conv?.kind === CONV_RECIPE && tf.util.arraysEqual(x.shape, conv.info.outShape)) {
      // Pool the convolution as it is computed. While training, the convolution's output is
      // written too (the backward pass reads it); for inference it is never written.
      const training = tf.engine().state.gradientDepth > 0;
      ctx.invoke('conv2dPool', { ...convForwardArgs(ctx, conv, training ? x : null), pooled: ctx.offset(out), poolGeometry: geometry });
      if (training) ctx.deferred.resolve(x.dataId);
      return out;
    }
    ctx.deferred.materialize(x.dataId);
    ctx.invoke('maxPool', { geometry, x: ctx.offset(x), y: ctx.offset(out) });
    return out;
  },
};

/** Pooling windows that do not overlap: each input pixel is in at most one window. */
const disjoint = (c: backend_util.Conv2DInfo) =>
  c.strideHeight >= c.filterHeight && c.strideWidth >= c.filterWidth && c.dilationHeight === 1 && c.dilationWidth === 1;

export const MAX_POOL_GRAD_RECIPE = 'maxPoolGrad';

/** What a deferred MaxPoolGrad output is made from (see ../pending.ts). */
export interface MaxPoolGradRecipe extends Recipe {
  kind: typeof MAX_POOL_GRAD_RECIPE;
  dy: TensorInfo;
  input: TensorInfo;
  attrs: MaxPoolGradAttrs;
}

const maxPoolGrad: NativeKernel = {
  kernelName: 'MaxPoolGrad',
  run(ctx, args, fallback) {
    const { dy, input } = inputsOf(args, 'dy', 'input');
    const attrs = attrsOf<MaxPoolGradAttrs>(args);
    const { filterSize, strides, pad, dimRoundingMode } = attrs;
    if (!allFloat32(dy, input) || input.shape.length !== 4) return fallback(args);
    const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const geometry = poolGeometry(info);
    if (sizeOf(input.shape) === 0 || !geometry) return fallback(args);
    const out = ctx.backend.makeOutput([...input.shape], 'float32');
    const fill = () => ctx.invoke('maxPoolGrad', { geometry, dy: ctx.offset(dy), x: ctx.offset(input), dx: ctx.offset(out) });
    // The backward pass of a ReLU layer below may compute its gradient from dy directly.
    if (disjoint(info)) {
      const recipe: MaxPoolGradRecipe = { kind: MAX_POOL_GRAD_RECIPE, sources: [dy, input], fill, dy, input, attrs };
      ctx.deferred.defer(out, recipe);
    } else {
      fill();
    }
    return out;
  },
};

export const POOL_RELU_GRAD_BIAS = 'FashionCnnPoolReluGradBias';

export interface PoolReluGradBiasAttrs extends MaxPoolGradAttrs {
  activation: 'relu' | 'linear';
  /** Whether to compute the per-channel sum (the layer's bias gradient). */
  biasGrad: boolean;
}

/**
 * [MaxPoolGrad(dyPool, y) * step(y), its per-channel sum] in one pass, for y the output of a
 * ReLU (or linear) layer pooled with non-overlapping windows; only the first without `biasGrad`.
 */
const poolReluGradBias: NativeKernel = {
  kernelName: POOL_RELU_GRAD_BIAS,
  run(ctx, args) {
    const { dyPool, y } = inputsOf(args, 'dyPool', 'y');
    const { filterSize, strides, pad, dimRoundingMode, activation, biasGrad } = attrsOf<PoolReluGradBiasAttrs>(args);
    const info = backend_util.computePool2DInfo(y.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const geometry = poolGeometry(info);
    if (!disjoint(info) || !geometry) throw new Error(`${POOL_RELU_GRAD_BIAS}: overlapping or padded-before windows`);
    const dyAct = ctx.backend.makeOutput([...y.shape], 'float32');
    const bias = biasGrad ? ctx.backend.makeOutput([info.inChannels], 'float32') : null;
    ctx.invoke('poolReluGradBias', {
      geometry, dyPool: ctx.offset(dyPool), y: ctx.offset(y), dyAct: ctx.offset(dyAct), bias: ctx.offsetOr(bias), relu: activation === 'relu' ? 1 : 0,
    });
    return bias ? [dyAct, bias] : [dyAct];
  },
};

export const poolKernels: NativeKernel[] = [maxPool, maxPoolGrad, poolReluGradBias];
