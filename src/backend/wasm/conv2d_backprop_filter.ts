/**
 * Conv2DBackpropFilter for the wasm backend (stock tfjs-backend-wasm 4.22 has none, so a conv net
 * cannot train there): dW = colsᵀ · dy, where cols is the im2col matrix of x, computed by the
 * backend's own XNNPACK matrix product in blocks of output positions, with the small per-block
 * results summed in JS. Nothing the size of the whole column matrix (170 MB for cnn4's second
 * layer at batch 256) is ever materialised.
 *
 * Each block's colsᵀ is written by JS straight into a scratch buffer on the wasm heap, and dy's
 * matching rows are aliased in place as XNNPACK's packed operand. Measured on the models' layers
 * at batch 256 against alternatives: one product per filter tap with block-copied gathers
 * (XNNPACK then packs the big operand: ~1.5x slower), dW as an XNNPACK convolution of transposed
 * x and dy (the transposes cost what the convolution saves), and other im2col layouts.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { convInfoFor, convTuning, geometryOf, positionsPerPass, type ConvAttrs } from './conv_common.js';
import { aliasTensor, dropAlias, f32Data, f32View, heapOffset, release, runOriginal, WASM } from './heap.js';
import { im2colTransposed, positionCount, tapCount, type ConvGeometry } from './im2col.js';

interface BackpropFilterAttrs extends ConvAttrs {
  filterShape: [number, number, number, number];
}

function conv2DBackpropFilter(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: BackendWasm; attrs: BackpropFilterAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`wasm Conv2DBackpropFilter: float32 inputs expected (got ${x.dtype}, ${dy.dtype})`);
  }
  const info = convInfoFor('Conv2DBackpropFilter', x.shape as [number, number, number, number], attrs.filterShape, dy.shape, attrs);
  const g = geometryOf(info);
  const dW = backend.makeOutput([...attrs.filterShape], 'float32');
  try {
    const empty = tapCount(g) * g.outC === 0 || positionCount(g) === 0;
    const sum = empty ? new Float32Array(tapCount(g) * g.outC) : blockwiseProduct(backend, x, dy, g);
    f32Data(backend, dW).set(sum); // a view taken after the product's allocations (they may grow the heap)
  } catch (e) {
    release(backend, dW);
    throw e;
  }
  return dW;
}

/** dW as [taps, outC] (taps = filterH*filterW*inC, the filter's own layout): Σ over blocks of colsᵀ · dy. */
function blockwiseProduct(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): Float32Array {
  const taps = tapCount(g);
  const positions = positionCount(g);
  const outC = g.outC;
  const block = positionsPerPass(taps * 4, convTuning.filterGradBlockBytes, positions);
  const scratch = backend.makeOutput([taps * block], 'float32');
  const sum = new Float32Array(taps * outC);
  try {
    for (let m0 = 0; m0 < positions; m0 += block) {
      const len = Math.min(block, positions - m0);
      const colsT = { dataId: scratch.dataId, shape: [1, taps, len], dtype: 'float32' as const };
      im2colTransposed(f32Data(backend, x), g, m0, len, f32View(backend, heapOffset(backend, scratch), taps * len));
      // dy rows [m0, m0+len) as the packed (weights) operand of XNNPACK's fully-connected op.
      const dyRows = aliasTensor(backend, heapOffset(backend, dy) + m0 * outC * 4, [1, len, outC]);
      let part: TensorInfo;
      try {
        part = runOriginal('BatchMatMul', backend, { a: colsT, b: dyRows }, { transposeA: false, transposeB: false });
      } finally {
        dropAlias(backend, dyRows);
      }
      const partData = f32Data(backend, part);
      for (let i = 0; i < sum.length; i++) sum[i] += partData[i];
      release(backend, part);
    }
  } finally {
    release(backend, scratch);
  }
  return sum;
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: WASM,
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};
