/** MaxPool and MaxPoolGrad on NHWC tensors (native/src/pool.cc). */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type MaxPoolAttrs, type MaxPoolGradAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import type { Recipe } from '../pending.js';
import { SLOTS, STRUCTS } from '../param-layout.js';
import { CONV_RECIPE, setConvGeometry, setConvOperands, type ConvRecipe } from './conv.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

/**
 * Writes the pooling geometry (struct poolGeometry) at slot `at` (SLOTS.maxPool.geometry, ...).
 * Returns false for windows that start before the image, which the native kernels do not handle.
 */
function setGeometry(ctx: NativeContext, c: backend_util.Conv2DInfo, at: number): boolean {
  const { top, left } = c.padInfo;
  if (top < 0 || left < 0) return false;
  ctx.write(STRUCTS.poolGeometry, {
    N: c.batchSize, H: c.inHeight, W: c.inWidth, C: c.inChannels, OH: c.outHeight, OW: c.outWidth, KH: c.filterHeight, KW: c.filterWidth,
    SH: c.strideHeight, SW: c.strideWidth, DH: c.dilationHeight, DW: c.dilationWidth, padT: top, padL: left,
  }, at);
  return true;
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
    if (sizeOf(info.outShape) === 0 || sizeOf(x.shape) === 0 || !setGeometry(ctx, info, SLOTS.maxPool.geometry)) return plain();
    const out = ctx.backend.makeOutput(info.outShape, 'float32');
    if (conv?.kind === CONV_RECIPE && tf.util.arraysEqual(x.shape, conv.info.outShape)) {
      // Pool the convolution as it is computed. While training, the convolution's output is
      // written too (the backward pass reads it); for inference it is never written.
      const training = tf.engine().state.gradientDepth > 0;
      setGeometry(ctx, info, SLOTS.conv.poolGeometry);
      setConvGeometry(ctx, conv.info);
      setConvOperands(ctx, conv.x, conv.filter, conv.bias, training ? x : null, conv.act, conv.alpha, conv.scaleShift);
      ctx.write(SLOTS.conv, { pooled: ctx.offset(out) });
      ctx.addon.conv2dPool();
      if (training) ctx.deferred.resolve(x.dataId);
      return out;
    }
    ctx.deferred.materialize(x.dataId);
    setGeometry(ctx, info, SLOTS.maxPool.geometry);
    ctx.syncHeap();
    ctx.write(SLOTS.maxPool, { x: ctx.offset(x), y: ctx.offset(out) });
    ctx.addon.maxPool();
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
    if (sizeOf(input.shape) === 0 || !setGeometry(ctx, info, SLOTS.maxPoolGrad.geometry)) return fallback(args);
    const out = ctx.backend.makeOutput([...input.shape], 'float32');
    const fill = () => {
      setGeometry(ctx, info, SLOTS.maxPoolGrad.geometry);
      ctx.syncHeap();
      ctx.write(SLOTS.maxPoolGrad, { dy: ctx.offset(dy), x: ctx.offset(input), dx: ctx.offset(out) });
      ctx.addon.maxPoolGrad();
    };
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
    if (!disjoint(info) || !setGeometry(ctx, info, SLOTS.poolReluGradBias.geometry)) throw new Error(`${POOL_RELU_GRAD_BIAS}: overlapping or padded-before windows`);
    const dyAct = ctx.backend.makeOutput([...y.shape], 'float32');
    const bias = biasGrad ? ctx.backend.makeOutput([info.inChannels], 'float32') : null;
    ctx.syncHeap();
    ctx.write(SLOTS.poolReluGradBias, {
      dyPool: ctx.offset(dyPool), y: ctx.offset(y), dyAct: ctx.offset(dyAct), bias: ctx.offsetOr(bias), relu: activation === 'relu' ? 1 : 0,
    });
    ctx.addon.poolReluGradBias();
    return bias ? [dyAct, bias] : [dyAct];
  },
};

export const poolKernels: NativeKernel[] = [maxPool, maxPoolGrad, poolReluGradBias];
