/**
 * BatchMatMul for the wasm backend that keeps transposed products on XNNPACK.
 *
 * The stock kernel uses XNNPACK only for unbatched products without transposes and falls back to
 * a scalar loop otherwise, and a dense layer's backward pass is exactly the transposed case
 * (dA = dY·Bᵀ, dB = Aᵀ·dY). Transposing the operand first (the backend's Transpose kernel) and
 * then multiplying on XNNPACK is several times faster than the scalar loop.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { release, runOriginal, sizeOf, WASM } from './heap.js';

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** [.., r, c] with unit leading dimensions -> [1, c, r]. */
function transposed2D(backend: BackendWasm, t: TensorInfo): TensorInfo {
  const r = t.shape[t.shape.length - 2];
  const c = t.shape[t.shape.length - 1];
  const as3D = { dataId: t.dataId, shape: [1, r, c], dtype: t.dtype };
  return runOriginal('Transpose', backend, { x: as3D }, { perm: [0, 2, 1] });
}

function batchMatMul(args: { inputs: { a: TensorInfo; b: TensorInfo }; backend: BackendWasm; attrs: BatchMatMulAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const unbatched = sizeOf(a.shape.slice(0, -2)) === 1 && sizeOf(b.shape.slice(0, -2)) === 1;
  if ((!transposeA && !transposeB) || !unbatched || a.dtype !== 'float32' || b.dtype !== 'float32' || sizeOf(a.shape) === 0 || sizeOf(b.shape) === 0) {
    return runOriginal('BatchMatMul', backend, { a, b }, { transposeA, transposeB });
  }
  const a2 = transposeA ? transposed2D(backend, a) : a;
  let b2: TensorInfo = b;
  try {
    b2 = transposeB ? transposed2D(backend, b) : b;
    const out = runOriginal('BatchMatMul', backend, { a: a2, b: b2 }, { transposeA: false, transposeB: false });
    // The stock kernel's output rank follows its inputs'; keep the caller's rank (as if untransposed).
    const rank = Math.max(a.shape.length, b.shape.length);
    const [rows, cols] = out.shape.slice(-2);
    out.shape = [...new Array<number>(rank - 2).fill(1), rows, cols];
    return out;
  } finally {
    if (a2 !== a) release(backend, a2);
    if (b2 !== b) release(backend, b2);
  }
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: WASM,
  kernelFunc: batchMatMul as unknown as KernelFunc,
};
