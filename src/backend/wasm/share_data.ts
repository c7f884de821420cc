/**
 * Identity, and Cast to the same dtype, for the wasm backend without copying: the output shares
 * the input's memory (reference-counted), as the 'cpu' backend does. TF.js never writes into an
 * existing tensor's memory, so sharing is safe, and the engine clones every tensor it saves for
 * the backward pass through Identity: the stock kernels copied each of them (tens of MB a step).
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { runOriginal, WASM } from './heap.js';

function share(backend: BackendWasm, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

function identity(args: { inputs: { x: TensorInfo }; backend: BackendWasm }): TensorInfo {
  const { inputs, backend } = args;
  if (inputs.x.dtype === 'string') return runOriginal('Identity', backend, { x: inputs.x }, {});
  return share(backend, inputs.x);
}

function cast(args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: { dtype: string } }): TensorInfo {
  const { inputs, backend, attrs } = args;
  if (inputs.x.dtype !== attrs.dtype || inputs.x.dtype === 'string') return runOriginal('Cast', backend, { x: inputs.x }, { dtype: attrs.dtype });
  return share(backend, inputs.x);
}

export const identityConfig: KernelConfig = {
  kernelName: 'Identity',
  backendName: WASM,
  kernelFunc: identity as unknown as KernelFunc,
};

export const castConfig: KernelConfig = {
  kernelName: 'Cast',
  backendName: WASM,
  kernelFunc: cast as unknown as KernelFunc,
};
