/**
 * Sum and Mean over leading axes for the wasm backend (e.g. a conv layer's bias gradient and
 * batch-norm statistics: [N, H, W, C] -> [C]). The stock kernels first transpose the input so
 * that the reduced axes come last, a slow full copy of the largest tensors in a training step.
 * Here the rows are instead added pairwise with the backend's own (SIMD) Add kernel: the top
 * half of the rows plus the bottom half, on views of the same memory, repeated until one row is
 * left. That reads each element once more than a plain sum and is as accurate as pairwise
 * summation. Every other reduction goes to the stock kernel.
 */
import { backend_util, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { aliasTensor, dropAlias, f32Data, heapF32, heapOffset, release, runOriginal, sizeOf, WASM } from './heap.js';

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

/** Column sums of x viewed as [rows, cols], as a new [cols] tensor. */
function columnSums(backend: BackendWasm, x: TensorInfo, rows: number, cols: number): TensorInfo {
  let current = x;
  let owned = false;
  let left = rows;
  while (left > 1) {
    const half = Math.floor(left / 2);
    const at = heapOffset(backend, current);
    const top = aliasTensor(backend, at, [half * cols]);
    const bottom = aliasTensor(backend, at + half * cols * 4, [half * cols]);
    let next: TensorInfo;
    try {
      next = runOriginal('Add', backend, { a: top, b: bottom }, {});
    } finally {
      dropAlias(backend, top);
      dropAlias(backend, bottom);
    }
    if (left % 2 === 1) {
      const heap = heapF32(backend);
      const odd = (heapOffset(backend, current) >> 2) + 2 * half * cols;
      const into = heapOffset(backend, next) >> 2;
      for (let c = 0; c < cols; c++) heap[into + c] += heap[odd + c];
    }
    if (owned) release(backend, current);
    current = next;
    owned = true;
    left = half;
  }
  if (!owned) {
    const copy = backend.makeOutput([cols], 'float32');
    f32Data(backend, copy).set(f32Data(backend, x));
    return copy;
  }
  return { ...current, shape: [cols] };
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
    const kept = x.shape.slice(k);
    const out = columnSums(backend, x, rows, sizeOf(kept));
    if (kernelName === 'Mean') {
      const values = f32Data(backend, out);
      for (let c = 0; c < values.length; c++) values[c] /= rows;
    }
    out.shape = attrs.keepDims ? backend_util.expandShapeToKeepDim(kept, axes) : kept;
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
