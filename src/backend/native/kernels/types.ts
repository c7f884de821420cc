import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';

export type KernelArgs = Parameters<KernelFunc>[0];
export type KernelResult = ReturnType<KernelFunc>;

/**
 * A kernel of the native backend. `fallback` is the wasm kernel of the same name: a native kernel
 * hands over to it for whatever it does not handle (other dtypes, layouts, activations).
 */
export interface NativeKernel {
  kernelName: string;
  /** The wasm kernel to hand over to, when not the one of the same name. */
  fallbackName?: string;
  /** The kernel looks at deferred inputs itself (see ../pending.ts); others get them filled. */
  handlesDeferredInputs?: boolean;
  run(ctx: NativeContext, args: KernelArgs, fallback: KernelFunc): KernelResult;
}

export function inputsOf<T extends string>(args: KernelArgs, ..._names: T[]): Record<T, TensorInfo> {
  return args.inputs as NamedTensorInfoMap as Record<T, TensorInfo>;
}

export function attrsOf<T>(args: KernelArgs): T {
  return (args.attrs ?? ({} as NamedAttrMap)) as unknown as T;
}

export function allFloat32(...ts: (TensorInfo | undefined | null)[]): boolean {
  return ts.every((t) => t == null || t.dtype === 'float32');
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
