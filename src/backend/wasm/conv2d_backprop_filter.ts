/**
 * Conv2DBackpropFilter for the wasm backend (stock tfjs-backend-wasm 4.22 has none, so a conv net
 * cannot train there): dW = colsᵀ · dy, where cols is the im2col matrix of x.
 *
 * The output positions are processed in blocks: for each block, colsᵀ is written straight into a
 * scratch buffer on the wasm heap and multiplied with the matching rows of dy (aliased in place)
 * by the backend's own XNNPACK matrix product; the small per-block results are summed in JS.
 * Blocks keep the scratch buffer cache-sized instead of materialising the whole column matrix
 * (170 MB for cnn4's second layer at batch 256).
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { convInfoFor, geometryOf, positionsPerPass, type ConvAttrs } from './conv_common.js';
import { aliasTensor, dropAlias, f32Data, f32View, heapOffset, release, runOriginal, WASM } from './heap.js';
import { im2colTransposed, positionCount, tapCount } from './im2col.js';

/** Bytes of column matrix per block; measured on cnn3/cnn4 shapes (see tmp/wasm bench). */
export const FILTER_GRAD_BLOCK_BYTES = 1 << 20;

interface BackpropFilterAttrs extends ConvAttrs {
  filterShape: [number, number, number, number];
}

function conv2DBackpropFilter(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: BackendWasm; attrs: BackpropFilterAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`wasm Conv2DBackpropFilter: float32 inputs expected (got ${x.dtype}, ${dy.dtype})`);
  }
  const info = convInfoFor('Conv2DBackpropFilter', x.shape as [number, number, number, number], attrs.filterShape, attrs);
  const g = geometryOf(info);
  const taps = tapCount(g);
  const positions = positionCount(g);
  const outC = g.outC;
  const dW = backend.makeOutput([...attrs.filterShape], 'float32');
  if (taps * outC === 0) return dW;
  if (positions === 0) {
    f32Data(backend, dW).fill(0);
    return dW;
  }

  const block = positionsPerPass(taps * 4, FILTER_GRAD_BLOCK_BYTES, positions);
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
  } catch (e) {
    release(backend, dW);
    throw e;
  } finally {
    release(backend, scratch);
  }
  f32Data(backend, dW).set(sum);
  return dW;
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: WASM,
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};
