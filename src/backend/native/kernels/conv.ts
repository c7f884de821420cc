/** Conv2D, FusedConv2D and both convolution gradients on oneDNN (native/src/conv.cc). */
import { backend_util, type Conv2DAttrs, type Conv2DBackpropFilterAttrs, type Conv2DBackpropInputAttrs, type FusedConv2DAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import { ACTIVATION } from '../params.js';
import { SLOTS, STRUCTS } from '../param-layout.js';
import type { Recipe } from '../pending.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

/**
 * Writes the geometry (SLOTS.conv.geometry). Returns false when oneDNN's output-size rule
 * disagrees with TF.js's (explicit padding with 'ceil' rounding), which is left to the wasm kernel.
 */
export function setConvGeometry(ctx: NativeContext, c: backend_util.Conv2DInfo): boolean {
  const { top, left, bottom, right } = c.padInfo;
  const fits = (size: number, pad: number, eff: number, stride: number, out: number) =>
    pad >= 0 && Math.floor((size + pad - eff) / stride) + 1 === out;
  if (!fits(c.inHeight, top + bottom, c.effectiveFilterHeight, c.strideHeight, c.outHeight)) return false;
  if (!fits(c.inWidth, left + right, c.effectiveFilterWidth, c.strideWidth, c.outWidth)) return false;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return false;
  ctx.write(STRUCTS.convGeometry, {
    N: c.batchSize, H: c.inHeight, W: c.inWidth, C: c.inChannels, KH: c.filterHeight, KW: c.filterWidth, OC: c.outChannels,
    OH: c.outHeight, OW: c.outWidth, SH: c.strideHeight, SW: c.strideWidth, DH: c.dilationHeight, DW: c.dilationWidth,
    padT: top, padL: left, padB: bottom, padR: right,
  }, SLOTS.conv.geometry);
  return true;
}

/**
 * Writes the operands (after the geometry, and after allocating).
 * `scaleShift` ([2, channels]) is an inference batch norm fused after the activation.
 */
export function setConvOperands(ctx: NativeContext, a: TensorInfo, b: TensorInfo, bias: TensorInfo | null, out: TensorInfo | null, act = 0, alpha = 0, scaleShift: TensorInfo | null = null): void {
  ctx.syncHeap();
  ctx.write(SLOTS.conv, {
    a: ctx.offset(a), b: ctx.offset(b), bias: ctx.offsetOr(bias), out: ctx.offsetOr(out),
    activation: act, alpha, scaleShift: ctx.offsetOr(scaleShift),
  });
}

function run(ctx: NativeContext, call: () => void, a: TensorInfo, b: TensorInfo, bias: TensorInfo | null, out: TensorInfo, act = 0, alpha = 0): void {
  setConvOperands(ctx, a, b, bias, out, act, alpha);
  call();
}

export const CONV_RECIPE = 'conv';

/** What a deferred convolution output is made from (see ../pending.ts). */
export interface ConvRecipe extends Recipe {
  kind: typeof CONV_RECIPE;
  x: TensorInfo;
  filter: TensorInfo;
  bias: TensorInfo | null;
  info: backend_util.Conv2DInfo;
  act: number;
  alpha: number;
  /** A following inference batch norm, as y * scale + shift per channel ([2, channels]), or null. */
  scaleShift: TensorInfo | null;
}

/** Defers `out` as the convolution the recipe describes (a max pooling or batch norm may take it over). */
export function deferConv(ctx: NativeContext, out: TensorInfo, conv: Omit<ConvRecipe, 'kind' | 'sources' | 'fill'>): void {
  const fill = () => {
    setConvGeometry(ctx, conv.info);
    setConvOperands(ctx, conv.x, conv.filter, conv.bias, out, conv.act, conv.alpha, conv.scaleShift);
    ctx.addon.conv2d();
  };
  const sources = [conv.x, conv.filter, conv.bias, conv.scaleShift].filter((t): t is TensorInfo => t !== null);
  ctx.deferred.defer(out, { ...conv, kind: CONV_RECIPE, sources, fill } as ConvRecipe);
}

const conv2D: NativeKernel = {
  kernelName: 'Conv2D',
  run(ctx, args, fallback) {
    const { x, filter } = inputsOf(args, 'x', 'filter');
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrsOf<Conv2DAttrs>(args);
    if (!allFloat32(x, filter) || dataFormat === 'NCHW') return fallback(args);
    const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, false, 'channelsLast');
    if (sizeOf(info.outShape) === 0 || sizeOf(x.shape) === 0 || !setConvGeometry(ctx, info)) return fallback(args);
    const out = ctx.backend.makeOutput(info.outShape, 'float32');
    run(ctx, () => ctx.addon.conv2d(), x, filter, null, out);
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
    if (!biasFits || sizeOf(info.outShape) === 0 || sizeOf(x.shape) === 0 || !setConvGeometry(ctx, info)) return fallback(args);
    const out = ctx.backend.makeOutput(info.outShape, 'float32');
    // Deferred: a max pooling or an inference batch norm that follows computes it with them.
    deferConv(ctx, out, { x, filter, bias: bias ?? null, info, act, alpha: leakyreluAlpha ?? 0.2, scaleShift: null });
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
    if (sizeOf(inputShape) === 0 || sizeOf(dy.shape) === 0 || !setConvGeometry(ctx, info)) return fallback(args);
    const out = ctx.backend.makeOutput([...inputShape], 'float32');
    run(ctx, () => ctx.addon.conv2dBackpropInput(), dy, filter, null, out);
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
    if (sizeOf(filterShape) === 0 || sizeOf(dy.shape) === 0 || !setConvGeometry(ctx, info)) return fallback(args);
    const out = ctx.backend.makeOutput([...filterShape], 'float32');
    run(ctx, () => ctx.addon.conv2dBackpropFilter(), x, dy, null, out);
    return out;
  },
};

export const convKernels: NativeKernel[] = [conv2D, fusedConv2D, conv2DBackpropInput, conv2DBackpropFilter];
