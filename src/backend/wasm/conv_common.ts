/** What the wasm convolution-gradient kernels share: attribute checks, shapes, block sizes. */
import { backend_util } from '@tensorflow/tfjs-core';
import type { ConvGeometry } from './im2col.js';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

export interface ConvAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  /** Not part of TF.js's backprop attrs, but checked in case a caller passes it. */
  dilations?: [number, number] | number;
}

/** Validates what the wasm training kernels support and returns the convolution's shape facts. */
export function convInfoFor(
  kernelName: string,
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  dyShape: number[],
  attrs: ConvAttrs,
): backend_util.Conv2DInfo {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new Error(`wasm ${kernelName}: only dataFormat 'NHWC' is supported (got '${attrs.dataFormat}')`);
  }
  const dil = attrs.dilations ?? 1;
  const [dh, dw] = typeof dil === 'number' ? [dil, dil] : dil;
  if (dh !== 1 || dw !== 1) {
    throw new Error(`wasm ${kernelName}: dilations other than 1 are not supported (got [${dh}, ${dw}])`);
  }
  const info = backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  if (dyShape.length !== 4 || dyShape.some((d, i) => d !== info.outShape[i])) {
    throw new Error(`wasm ${kernelName}: dy has shape [${dyShape.join(', ')}] but the convolution's output is [${info.outShape.join(', ')}]`);
  }
  return info;
}

export function geometryOf(info: backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    filterH: info.filterHeight,
    filterW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilationH: info.dilationHeight,
    dilationW: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** Block sizes of the column-matrix kernels (bytes of column matrix per block); tunable for benchmarks. */
export const convTuning = {
  /** Conv2DBackpropFilter; 1-8 MB measured alike on the models' layers, 4 MB best on the largest. */
  filterGradBlockBytes: 4 << 20,
  /** Conv2DBackpropInput with strides other than 1. */
  inputGradBlockBytes: 1 << 20,
  /**
   * Conv2DBackpropInput with stride 1 runs as a convolution unless dy has fewer than this share of
   * x's pixels (the convolution then spends most of its work on padding; cnn3's last layer, 3x3
   * from 5x5, is 2x faster as columns, while 8x8 from 10x10 measures alike).
   */
  inputGradColumnsBelowPixelRatio: 0.5,
};

/** How many output positions one block holds: its column matrix within `budgetBytes`, at least one. */
export function positionsPerPass(bytesPerPosition: number, budgetBytes: number, total: number): number {
  return Math.max(1, Math.min(total, Math.floor(budgetBytes / bytesPerPosition)));
}
