/**
 * Sum and Mean over leading axes for the wasm backend (e.g. a conv layer's bias gradient and
 * batch-norm statistics: [N, H, W, C] -> [C]). The stock kernels first transpose the input so
 * that the reduced axes come last, a full copy of the largest tensors in a training step; a
 * running column sum over the untouched layout does the same work without the copy. Every other
 * reduction goes to the stock kernel.
 */
import { backend_util, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { f32Data, runOriginal, sizeOf, WASM } from './heap.js';

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/** Number of leading axes reduced when `axes` is exactly 0..k-1 with k < rank, else 0. */
function leadingAxesCount(axes: number[], rank: number): number {
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.length >= rank) return 0;
  return sorted.every((a, i) => a === i) ? sorted.length : 0;
}

function reduceLeading(kernelName: 'Sum' | 'Mean') {
  return (args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: ReduceAttrs }): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    const axes = util.parseAxisParam(attrs.axis, x.shape);
    const k = leadingAxesCount(axes, x.shape.length);
    if (x.dtype !== 'float32' || k === 0 || sizeOf(x.shape) === 0) {
      return runOriginal(kernelName, backend, { x }, { axis: attrs.axis, keepDims: attrs.keepDims });
    }
    const rows = sizeOf(x.shape.slice(0, k));
    const cols = sizeOf(x.shape.slice(k));
    const acc = new Float64Array(cols);
    const xs = f32Data(backend, x);
    for (let r = 0, at = 0; r < rows; r++, at += cols) {
      for (let c = 0; c < cols; c++) acc[c] += xs[at + c];
    }
    if (kernelName === 'Mean') for (let c = 0; c < cols; c++) acc[c] /= rows;
    const kept = x.shape.slice(k);
    const shape = attrs.keepDims ? backend_util.expandShapeToKeepDim(kept, axes) : kept;
    const out = backend.makeOutput(shape, 'float32');
    f32Data(backend, out).set(acc);
    return out;
  };
}

export const sumConfig: KernelConfig = {
  kernelName: 'Sum',
  backendName: WASM,
  kernelFunc: reduceLeading('Sum') as unknown as KernelFunc,
};

export const meanConfig: KernelConfig = {
  kernelName: 'Mean',
  backendName: WASM,
  kernelFunc: reduceLeading('Mean') as unknown as KernelFunc,
};
