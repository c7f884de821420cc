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
  return backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
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

/**
 * How many output positions one pass handles: the column block stays within `budgetBytes`
 * (so it is still in cache when the matrix product reads it), and at least one position.
 */
export function positionsPerPass(bytesPerPosition: number, budgetBytes: number, total: number): number {
  return Math.max(1, Math.min(total, Math.floor(budgetBytes / bytesPerPosition)));
}
