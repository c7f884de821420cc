/**
 * Tile of a broadcast row ([1, ..., 1, C] repeated into [N, H, W, C], as batch-norm's gradient
 * does with its per-channel scale) for the wasm backend: the stock kernel computes every output
 * element's source index one by one, ~2 s per cnn4 training step at batch 256; doubling
 * block copies write the same bytes at memory speed. Every other tiling goes to the stock kernel.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { f32Data, runOriginal, sizeOf, WASM } from './heap.js';

interface TileAttrs {
  reps: number[];
}

function tile(args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: TileAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x } = inputs;
  const { reps } = attrs;
  const rank = x.shape.length;
  const isRow = rank >= 1 && x.shape.slice(0, -1).every((d) => d === 1) && reps.length === rank;
  if (!isRow || x.dtype !== 'float32' || sizeOf(x.shape) === 0 || reps.some((r) => r <= 0)) {
    return runOriginal('Tile', backend, { x }, { reps });
  }
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, 'float32');
  const src = f32Data(backend, x);
  const dst = f32Data(backend, out);
  dst.set(src, 0);
  const total = dst.length;
  for (let filled = src.length; filled < total; filled *= 2) {
    dst.copyWithin(filled, 0, Math.min(filled, total - filled));
  }
  return out;
}

export const tileConfig: KernelConfig = {
  kernelName: 'Tile',
  backendName: WASM,
  kernelFunc: tile as unknown as KernelFunc,
};
