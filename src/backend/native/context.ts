/**
 * What every native kernel needs: the addon, the wasm backend whose heap holds the tensors, and
 * the parameter block kernels read their arguments from.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NativeAddon } from './addon.js';
import { DeferredOutputs } from './pending.js';

export class NativeContext {
  /** Kernel arguments: fill from index 0, then call the addon function. */
  readonly params: Float64Array;
  /** Kernel outputs whose computation waits until something reads them (see pending.ts). */
  readonly deferred: DeferredOutputs;
  private heap: ArrayBufferLike | null = null;

  constructor(
    readonly addon: NativeAddon,
    readonly backend: BackendWasm,
  ) {
    this.params = new Float64Array(addon.paramBlock());
    this.deferred = new DeferredOutputs(backend);
  }

  /** Byte offset of a tensor's data in the wasm heap. */
  offset(t: TensorInfo): number {
    return this.backend.dataIdMap.get(t.dataId).memoryOffset;
  }

  /** Offset of an optional tensor, or -1 (the kernels' "absent"). */
  offsetOr(t: TensorInfo | undefined | null): number {
    return t ? this.offset(t) : -1;
  }

  /**
   * Tells the addon where the heap is. Call it after the outputs are allocated and right before
   * the addon call: allocating can grow the heap, which replaces its ArrayBuffer.
   */
  syncHeap(): void {
    // The Emscripten module's typings are not shipped with tfjs-backend-wasm.
    const buffer = (this.backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer;
    if (buffer !== this.heap) {
      this.addon.setHeap(buffer);
      this.heap = buffer;
    }
  }

  /** Writes values into the parameter block from index `at`. */
  set(at: number, values: readonly number[]): void {
    this.params.set(values, at);
  }
}
