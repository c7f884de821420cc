/**
 * Small helpers for kernels that work directly on the wasm backend's heap.
 *
 * The kernels in this folder call the backend's own kernel functions (XNNPACK matmul and
 * convolution) on TensorInfos, below the engine: nothing here creates a tf.Tensor, so every
 * intermediate TensorInfo must be released with `release` before a kernel returns.
 */
import type { DataType, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export const WASM = 'wasm';

/** The parts of the emscripten module the kernels use (the published typings need @types/emscripten). */
interface WasmModuleParts {
  HEAPU8: Uint8Array;
  tfjs: { disposeData(id: number): void };
}

export function wasmModule(backend: BackendWasm): WasmModuleParts {
  return backend.wasm as unknown as WasmModuleParts;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function heapOffset(backend: BackendWasm, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/**
 * A float32 view of `length` elements at `byteOffset`. Views go stale when the heap grows (any
 * allocation may grow it), so take them after the last allocation and before the next.
 */
export function f32View(backend: BackendWasm, byteOffset: number, length: number): Float32Array {
  return new Float32Array(wasmModule(backend).HEAPU8.buffer, byteOffset, length);
}

/** A float32 view of the whole heap (stale after the heap grows, like `f32View`). */
export function heapF32(backend: BackendWasm): Float32Array {
  return new Float32Array(wasmModule(backend).HEAPU8.buffer);
}

export function f32Data(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

export function release(backend: BackendWasm, t: TensorInfo): void {
  backend.disposeData(t.dataId);
}

/**
 * A tensor that aliases part of another tensor's memory (no copy), for feeding a slice to a
 * backend kernel. It must be dropped with `dropAlias`, never `release`: freeing an interior
 * pointer would corrupt the heap. Dropping it also runs the backend's disposal callbacks, which
 * delete any XNNPACK operator cached on its id.
 */
export function aliasTensor(backend: BackendWasm, byteOffset: number, shape: number[], dtype: DataType = 'float32'): TensorInfo {
  return backend.makeOutput(shape, dtype, byteOffset);
}

export function dropAlias(backend: BackendWasm, t: TensorInfo): void {
  const { id } = backend.dataIdMap.get(t.dataId);
  wasmModule(backend).tfjs.disposeData(id);
  backend.dataIdMap.delete(t.dataId);
}

/** Kernel functions as registered when this module first looked (before any override). */
const originals = new Map<string, KernelFunc>();

/** Remembers the stock kernel of that name, if there is one; call before replacing it. */
export function captureOriginal(kernelName: string): void {
  const fn = tf.getKernel(kernelName, WASM)?.kernelFunc;
  if (fn && !originals.has(kernelName)) originals.set(kernelName, fn);
}

export function originalKernel(kernelName: string): KernelFunc {
  captureOriginal(kernelName);
  const fn = originals.get(kernelName);
  if (!fn) throw new Error(`wasm backend has no '${kernelName}' kernel to build on`);
  return fn;
}

export function runOriginal(kernelName: string, backend: BackendWasm, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
  return originalKernel(kernelName)({ inputs, backend, attrs }) as TensorInfo;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
