/** Conv2D, FusedConv2D and both convolution gradients on oneDNN (native/src/conv.cc). */
import { backend_util, type Conv2DAttrs, type Conv2DBackpropFilterAttrs, type Conv2DBackpropInputAttrs, type FusedConv2DAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import { ACTIVATION } from '../params.js';
import type { Code, KernelArgs, StructArgs } from '../param-layout.js';
import type { Recipe } from '../pending.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

/**
 * The geometry (struct convGeometry), or null when oneDNN's output-size rule disagrees with
 * TF.js's (explicit padding with 'ceil' rounding), which is left to the wasm kernel.
 */
export function convGeometry(c: backend_util.Conv2DInfo): StructArgs<'convGeometry'> | null {
  const { top, left, bottom, right } = c.padInfo;
  const fits = (size: number, pad: number, eff: number, stride: number, out: number) =>
    pad >= 0 && Math.floor((size + pad - eff) / stride) + 1 === out;
  if (!fits(c.inHeight, top + bottom, c.effectiveFilterHeight, c.strideHeight, c.outHeight)) return null;
  if (!fits(c.inWidth, left + right, c.effectiveFilterWidth, c.strideWidth, c.outWidth)) return null;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;
  return {
    N: c.batchSize, H: c.inHeight, W: c.inWidth, C: c.inChannels, KH: c.filterHeight, KW: c.filterWidth, OC: c.outChannels,
    OH: c.outHeight, OW: c.outWidth, SH: c.strideHeight, SW: c.strideWidth, DH: c.dilationHeight, DW: c.dilationWidth,
    padT: top, padL: left, padB: bottom, padR: right,
  };
}

/**
 * The arguments of a forward convolution (conv2d, conv2dPool): `scaleShift` ([2, channels]) is an
 * inference batch norm fused after the activation; `out` null writes no output (conv2dPool).
 */
export function convForwardArgs(ctx: NativeContext, conv: ConvRecipe, out: TensorInfo | null): KernelArgs<'conv2d'> {
  return {
    geometry: conv.geometry, a: ctx.offset(conv.x), b: ctx.offset(conv.filter), bias: ctx.offsetOr(conv.bias), out: ctx.offsetOr(out),
    activation: conv.act, alpha: conv.alpha, scaleShift: ctx.offsetOr(conv.scaleShift),
  };
}

export const CONV_RECIPE = 'conv';

/** What a deferred convolution output is made from (see ../pending.ts). */
export interface ConvRecipe extends Recipe {
  kind: typeof CONV_RECIPE;
  x: TensorInfo;
  filter: TensorInfo;
  bias: TensorInfo | null;
  info: backend_util.Conv2DInfo;
  geometry: StructArgs<'convGeometry'>;
  act: Code<'activation'>;
  alpha: number;
  /** A following inference batch norm, as y * scale + shift per channel ([2, channels]), or null. */
  scaleShift: TensorInfo | null;
}

/** Defers `out` as the convolution the recipe describes (a max pooling or batch norm may take it over). */
export function deferConv(ctx: NativeContext, out: TensorInfo, conv: Omit<ConvRecipe, 'kind' | 'sources' | 'fill'>): void {
  const recipe = { ...conv, kind: CONV_RECIPE, sources: [conv.x, conv.filter, conv.bias, conv.scaleShift].filter((t): t is TensorInfo => t !== null) } as ConvRecipe;
  recipe.fill = () => ctx.invoke('conv2d', convForwardArgs(ctx, recipe, out));
  ctx.deferred.defer(out, recipe);
}

const conv2D: NativeKernel = {
  kernelName: 'Conv2D',
  run(ctx, args, fallback) {
    const { x, filter } = inputsOf(args, 'x', 'filter');
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrsOf<Conv2DAttrs>(args);
    if (!allFloat32(x, filter) || dataFormat === 'NCHW') return fallback(args);
    const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, false, 'channelsLast');
    const geometry = convGeometry(info);
    if (sizeOf(info.outShape) === 0 || sizeOf(x.shape) === 0 || !geometry) return fallback(args);
    const out = ctx.backend.makeOutput(info.outShape, 'float32');
    ctx.invoke('conv2d', { geometry, a: ctx.offset(x), b: ctx.offset(filter), bias: -1, out: ctx.offset(out), activation: ACTIVATION.linear, alpha: 0, scaleShift: -1 });
    return out;
  },
};

export const fusedConv2D: NativeKernel = {
  kernelName: 'FusedConv2D',
  run(ctx, args, fallback) {
    const { x, filter, bias, preluActivationWeights } = inputsOf(args, 'x', 'filter', 'bias', 'preluActivationWeights');
    const { strides, pad, dataFormat, dilations, dimRoundingMode, activation, leakyreluAlpha } = attrsOf<FusedConv2DAttrs>(args);
    const act = ACTIVATION[activation as keyof typeof ACTIVATION];
    if (!allFloat32(x, filter, bias) || dataFormat === 'NCHW' || act === undefined || preluActivationWeights) return fallback(args);
    const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, false, 'channelsLast');
    const biasFits = !bias || (sizeOf(bias.shape) === info.outChannels && bias.shape[bias.shape.length - 1] === info.outChannels);
    const geometry = convGeometry(info);
    if (!biasFits || sizeOf(info.outShape) === 0 || sizeOf(x.shape) === 0 || !geometry) return fallback(args);
    const out = ctx.backend.makeOutput(info.outShape, 'float32');
    // Deferred: a max pooling or an inference batch norm that follows computes it with them.
    deferConv(ctx, out, { x, filter, bias: bias ?? null, info, geometry, act, alpha: leakyreluAlpha ?? 0.2, scaleShift: null });
    return out;
  },
};

const conv2DBackpropInput: NativeKernel = {
  kernelName: 'Conv2DBackpropInput',
  run(ctx, args, fallback) {
    const { dy, filter } = inputsOf(args, 'dy', 'filter');
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrsOf<Conv2DBackpropInputAttrs>(args);
    if (!allFloat32(dy, filter) || dataFormat === 'NCHW') return fallback(args);
    const info = backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const geometry = convGeometry(info);
    if (sizeOf(inputShape) === 0 || sizeOf(dy.shape) === 0 || !geometry) return fallback(args);
    const out = ctx.backend.makeOutput([...inputShape], 'float32');
    ctx.invoke('conv2dBackpropInput', { geometry, a: ctx.offset(dy), b: ctx.offset(filter), out: ctx.offset(out) });
    return out;
  },
};

const conv2DBackpropFilter: NativeKernel = {
  kernelName: 'Conv2DBackpropFilter',
  run(ctx, args, fallback) {
    const { x, dy } = inputsOf(args, 'x', 'dy');
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrsOf<Conv2DBackpropFilterAttrs>(args);
    if (!allFloat32(x, dy) || dataFormat === 'NCHW') return fallback(args);
    const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const geometry = convGeometry(info);
    if (sizeOf(filterShape) === 0 || sizeOf(dy.shape) === 0 || !geometry) return fallback(args);
    const out = ctx.backend.makeOutput([...filterShape], 'float32');
    ctx.invoke('conv2dBackpropFilter', { geometry, a: ctx.offset(x), b: ctx.offset(dy), out: ctx.offset(out) });
    return out;
  },
};

export const convKernels: NativeKernel[] = [conv2D, fusedConv2D, conv2DBackpropInput, conv2DBackpropFilter];
