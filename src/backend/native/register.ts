/**
 * Registers TF.js's 'native' backend.
 *
 * The native backend IS the wasm backend's instance under a second name: tensors live in the wasm
 * heap, every wasm kernel is registered again for 'native', and the hot kernels are replaced by
 * native ones that work in place on that heap. One instance (rather than a second wasm module)
 * because the wasm kernels keep their bound wasm functions in module-level variables: a second
 * instance would rebind them under the first one's feet. A side effect is useful: tensors move
 * between 'wasm' and 'native' for free.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NativeContext } from './context.js';
import type { NativeKernel } from './kernels/types.js';

export const NATIVE_BACKEND = 'native';
const NATIVE_PRIORITY = 3; // above wasm (2): preferred when both are registered

function unsupported(kernelName: string): KernelFunc {
  return () => {
    throw new Error(`${kernelName}: these inputs are not supported by the native backend, and the wasm backend has no such kernel`);
  };
}

export function registerNativeBackend(backend: BackendWasm, ctx: NativeContext, kernels: readonly NativeKernel[]): void {
  if (tf.findBackendFactory(NATIVE_BACKEND)) return;
  tf.registerBackend(NATIVE_BACKEND, () => backend, NATIVE_PRIORITY);

  const wasmKernels = new Map<string, KernelConfig>(tf.getKernelsForBackend('wasm').map((k) => [k.kernelName, k]));
  const nativeNames = new Set(kernels.map((k) => k.kernelName));
  // Every kernel first fills any deferred input (see pending.ts). The wasm kernels get the same
  // guard under their own name: after tf.setBackend('wasm') they read the same heap.
  for (const k of wasmKernels.values()) {
    const wasmFunc = k.kernelFunc;
    const guarded: KernelFunc = (args) => {
      ctx.deferred.beforeKernel(k.kernelName, args.inputs, args.attrs);
      return wasmFunc(args);
    };
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({ ...k, kernelFunc: guarded });
    if (!nativeNames.has(k.kernelName)) {
      const name = k.kernelName;
      tf.registerKernel({
        ...k,
        backendName: NATIVE_BACKEND,
        kernelFunc: (args) =>
          ctx.timed(name, () => {
            ctx.countWasm(name);
            return guarded(args);
          }),
      });
    }
  }
  for (const k of kernels) {
    const wasm = wasmKernels.get(k.fallbackName ?? k.kernelName);
    const wasmFunc = wasm?.kernelFunc ?? unsupported(k.kernelName);
    const fallback: KernelFunc = (args) => {
      ctx.countWasm(k.kernelName);
      return wasmFunc(args);
    };
    tf.registerKernel({
      kernelName: k.kernelName,
      backendName: NATIVE_BACKEND,
      kernelFunc: (args) =>
        ctx.timed(k.kernelName, () => {
          if (!k.handlesDeferredInputs) ctx.deferred.beforeKernel(k.kernelName, args.inputs, args.attrs);
          return k.run(ctx, args, fallback);
        }),
      setupFunc: wasm?.setupFunc,
    });
  }
}
