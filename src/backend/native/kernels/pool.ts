/** MaxPool and MaxPoolGrad on NHWC tensors (native/src/pool.cc). */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type MaxPoolAttrs, type MaxPoolGradAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { Recipe } from '../pending.js';
import type { StructArgs } from '../param-layout.js';
import { CONV_RECIPE, convForwardArgs, convGeometry, type ConvRecipe } from './conv.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

/**
 * The pooling geometry (struct poolGeometry), or null for windows that start before the image,
 * which the native kernels do not handle.
 */
export function poolGeometry(c: backend_util.Conv2DInfo): StructArgs<'poolGeometry'> | null {
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

export const CONV_POOL_FILTER_GRAD = 'FashionCnnConvPoolFilterGrad';

/** A first layer's convolution (3x3, one input channel) and the 2x2 max pooling after its activation. */
export interface ConvPoolFilterGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
  pool: MaxPoolGradAttrs;
  activation: 'relu' | 'linear';
  biasGrad: boolean;
}

/** Output channels per vector in the widest build (native/src/pool.h's kLanes): the kernel takes multiples of it. */
const CHANNEL_MULTIPLE = 16;

/** The geometries convPoolFilterGrad takes (native/src/first_layer.cc), or null when it does not take these. */
function convPoolGeometries(xShape: readonly number[], yShape: readonly number[], a: Omit<ConvPoolFilterGradAttrs, 'activation' | 'biasGrad'>) {
  if (xShape.length !== 4 || yShape.length !== 4) return null;
  const conv = backend_util.computeConv2DInfo(xShape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const pool = backend_util.computePool2DInfo(yShape as [number, number, number, number], a.pool.filterSize, a.pool.strides, 1, a.pool.pad, a.pool.dimRoundingMode);
  const geometry = convGeometry(conv);
  const poolGeom = poolGeometry(pool);
  const fits =
    geometry && poolGeom && conv.inChannels === 1 && conv.filterHeight === 3 && conv.filterWidth === 3 && conv.strideHeight === 1 && conv.strideWidth === 1 &&
    conv.dilationHeight === 1 && conv.dilationWidth === 1 && conv.outChannels % CHANNEL_MULTIPLE === 0 &&
    tf.util.arraysEqual(conv.outShape, [...yShape]) && pool.filterHeight === 2 && pool.filterWidth === 2 && pool.strideHeight === 2 && pool.strideWidth === 2 &&
    poolGeom.padT === 0 && poolGeom.padL === 0 && conv.outHeight % 2 === 0 && conv.outWidth % 2 === 0 && pool.outHeight * 2 === conv.outHeight && pool.outWidth * 2 === conv.outWidth;
  return fits ? { geometry, poolGeometry: poolGeom } : null;
}

/** Whether convPoolFilterGrad computes this layer's filter gradient. */
export function convPoolFilterGradFits(xShape: readonly number[], yShape: readonly number[], a: Omit<ConvPoolFilterGradAttrs, 'activation' | 'biasGrad'>): boolean {
  return convPoolGeometries(xShape, yShape, a) !== null;
}

/**
 * [filter gradient, bias gradient] of a first layer "3x3 conv of one channel + activation, then
 * 2x2 max pooling" straight from the pooled gradient (the images need no gradient, so the layer's
 * full-size gradient is never needed); only the first without `biasGrad`.
 */
const convPoolFilterGrad: NativeKernel = {
  kernelName: CONV_POOL_FILTER_GRAD,
  run(ctx, args) {
    const { x, y, dyPool } = inputsOf(args, 'x', 'y', 'dyPool');
    const a = attrsOf<ConvPoolFilterGradAttrs>(args);
    const g = convPoolGeometries(x.shape, y.shape, a);
    if (!g || !allFloat32(x, y, dyPool)) throw new Error(`${CONV_POOL_FILTER_GRAD}: takes a 3x3 convolution of one channel and 2x2 pooling that tiles its output`);
    const dw = ctx.backend.makeOutput([...a.filterShape], 'float32');
    const bias = a.biasGrad ? ctx.backend.makeOutput([a.filterShape[3]], 'float32') : null;
    ctx.invoke('convPoolFilterGrad', {
      geometry: g.geometry, poolGeometry: g.poolGeometry, x: ctx.offset(x), y: ctx.offset(y), dyPool: ctx.offset(dyPool), dw: ctx.offset(dw), bias: ctx.offsetOr(bias), relu: a.activation === 'relu' ? 1 : 0,
    });
    return bias ? [dw, bias] : [dw];
  },
};

export const poolKernels: NativeKernel[] = [maxPool, maxPoolGrad, poolReluGradBias, convPoolFilterGrad];
