/**
 * Conv2DBackpropInput for the wasm backend, replacing the stock kernel (a scalar loop nest).
 *
 * Stride 1: dx is a plain convolution of dy with the filter rotated 180 degrees and its channel
 * axes swapped, with padding filter-1-pad, so it runs on the backend's XNNPACK Conv2D.
 * Other strides (and small dy, see convTuning): dx = col2im(dy · Wᵀ), the product on XNNPACK in
 * cache-sized blocks of output positions and the scatter-add in JS.
 */
import type { backend_util, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { convInfoFor, convTuning, geometryOf, positionsPerPass, type ConvAttrs } from './conv_common.js';
import { aliasTensor, dropAlias, f32Data, heapOffset, release, runOriginal, sizeOf, WASM } from './heap.js';
import { col2imAdd, positionCount, tapCount, type ConvGeometry } from './im2col.js';

interface BackpropInputAttrs extends ConvAttrs {
  inputShape: [number, number, number, number];
}

function conv2DBackpropInput(args: { inputs: { dy: TensorInfo; filter: TensorInfo }; backend: BackendWasm; attrs: BackpropInputAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') {
    throw new Error(`wasm Conv2DBackpropInput: float32 inputs expected (got ${dy.dtype}, ${filter.dtype})`);
  }
  const info = convInfoFor('Conv2DBackpropInput', attrs.inputShape, filter.shape as [number, number, number, number], dy.shape, attrs);
  const g = geometryOf(info);
  if (sizeOf(attrs.inputShape) === 0) return backend.makeOutput([...attrs.inputShape], 'float32');
  if (positionCount(g) === 0 || tapCount(g) * g.outC === 0) {
    const dx = backend.makeOutput([...attrs.inputShape], 'float32');
    f32Data(backend, dx).fill(0);
    return dx;
  }
  const transposedPads = fullConvolutionPads(info);
  const pixelRatio = (g.outH * g.outW) / (g.inH * g.inW);
  if (g.strideH === 1 && g.strideW === 1 && transposedPads && pixelRatio >= convTuning.inputGradColumnsBelowPixelRatio) {
    return viaConvolution(backend, dy, filter, g, transposedPads);
  }
  return viaColumns(backend, dy, filter, g, attrs.inputShape);
}

type Pads = [[number, number], [number, number], [number, number], [number, number]];

/** Padding of the stride-1 convolution of dy that yields dx; null when it would be negative. */
function fullConvolutionPads(info: backend_util.Conv2DInfo): Pads | null {
  const top = info.filterHeight - 1 - info.padInfo.top;
  const left = info.filterWidth - 1 - info.padInfo.left;
  const bottom = info.inHeight - info.outHeight - top + info.filterHeight - 1;
  const right = info.inWidth - info.outWidth - left + info.filterWidth - 1;
  if (Math.min(top, left, bottom, right) < 0) return null;
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

function viaConvolution(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry, pads: Pads): TensorInfo {
  const { filterH, filterW, inC, outC } = g;
  // W'[a, b, co, ci] = W[fh-1-a, fw-1-b, ci, co]
  const rotated = backend.makeOutput([filterH, filterW, outC, inC], 'float32');
  try {
    const w = f32Data(backend, filter);
    const r = f32Data(backend, rotated);
    for (let a = 0; a < filterH; a++) {
      for (let b = 0; b < filterW; b++) {
        const src = ((filterH - 1 - a) * filterW + (filterW - 1 - b)) * inC * outC;
        const dst = (a * filterW + b) * outC * inC;
        for (let ci = 0; ci < inC; ci++) {
          for (let co = 0; co < outC; co++) r[dst + co * inC + ci] = w[src + ci * outC + co];
        }
      }
    }
    return runOriginal('Conv2D', backend, { x: dy, filter: rotated }, { strides: 1, pad: pads, dataFormat: 'NHWC', dilations: 1 });
  } finally {
    release(backend, rotated);
  }
}

function viaColumns(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry, inputShape: number[]): TensorInfo {
  const taps = tapCount(g);
  const positions = positionCount(g);
  const outC = g.outC;
  // Wᵀ as [1, outC, taps]: the packed operand, the same for every block.
  const filterT = backend.makeOutput([1, outC, taps], 'float32');
  const dx = backend.makeOutput([...inputShape], 'float32');
  try {
    const w = f32Data(backend, filter);
    const wt = f32Data(backend, filterT);
    for (let k = 0; k < taps; k++) for (let co = 0; co < outC; co++) wt[co * taps + k] = w[k * outC + co];
    f32Data(backend, dx).fill(0);
    const block = positionsPerPass(taps * 4, convTuning.inputGradBlockBytes, positions);
    for (let m0 = 0; m0 < positions; m0 += block) {
      const len = Math.min(block, positions - m0);
      const dyRows = aliasTensor(backend, heapOffset(backend, dy) + m0 * outC * 4, [1, len, outC]);
      let cols: TensorInfo;
      try {
        cols = runOriginal('BatchMatMul', backend, { a: dyRows, b: filterT }, { transposeA: false, transposeB: false });
      } finally {
        dropAlias(backend, dyRows);
      }
      col2imAdd(f32Data(backend, cols), g, m0, len, f32Data(backend, dx));
      release(backend, cols);
    }
  } catch (e) {
    release(backend, dx);
    throw e;
  } finally {
    release(backend, filterT);
  }
  return dx;
}

export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: WASM,
  kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
};
