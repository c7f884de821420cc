/**
 * What every native kernel needs: the addon, the wasm backend whose heap holds the tensors, and
 * the parameter block kernels read their arguments from.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { countingAddon, zeroCounts, type CallCounts, type NativeAddon } from './addon.js';
import { DeferredOutputs } from './pending.js';

export interface KernelRuns {
  runs: number;
  /** Runs computed by the wasm backend's kernel. */
  wasm: number;
  /** Time spent in the kernel itself, ms (excluding kernels and deferred fills it ran inside). */
  ms: number;
}

/** The kernelRuns entry of a deferred output's fill (pending.ts), done when something first reads it. */
export const deferredFillName = (kind: string) => `${kind} (deferred fill)`;

/** A family's slots (SLOTS.conv, ...) or a struct's fields (STRUCTS.convGeometry, ...). */
type Slots = Readonly<Record<string, number>>;

export class NativeContext {
  /** The addon; its kernel functions count their calls in `calls`. */
  readonly addon: NativeAddon;
  /** How many times each kernel function of the addon has run. */
  readonly calls: CallCounts = zeroCounts();
  /**
   * Per TF.js kernel name, how many times it ran on this backend, how many of those the wasm
   * backend computed (a native kernel handing over, or a kernel with no native version), and its
   * time: the addon's counts alone cannot tell which TF.js kernel made a call, nor see a
   * fallback, and `bench --profile` shows where a training step's time goes.
   */
  readonly kernelRuns = new Map<string, KernelRuns>();
  /** Time of the kernels running inside the ones in progress (for exclusive times). */
  private readonly innerMs: number[] = [];
  /** The parameter block: kernel arguments, at the slots of ./param-layout.ts. */
  readonly params: Float64Array;
  /** Kernel outputs whose computation waits until something reads them (see pending.ts). */
  readonly deferred: DeferredOutputs;
  private heap: ArrayBufferLike | null = null;

  constructor(
    addon: NativeAddon,
    readonly backend: BackendWasm,
  ) {
    this.addon = countingAddon(addon, this.calls);
    this.params = new Float64Array(addon.paramBlock());
    this.deferred = new DeferredOutputs(backend, (kind, fill) => this.timed(deferredFillName(kind), fill));
  }

  /**
   * Runs `fn` as one run of `name`, timed. Two clock reads per kernel: nothing next to a kernel's
   * work, so it is always on (a profile needs no special build or mode).
   */
  timed<T>(name: string, fn: () => T): T {
    const runs = this.runsOf(name);
    runs.runs++;
    this.innerMs.push(0);
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      const dt = performance.now() - t0;
      const inner = this.innerMs.pop()!;
      if (this.innerMs.length > 0) this.innerMs[this.innerMs.length - 1] += dt;
      runs.ms += dt - inner;
    }
  }

  /** Counts that the wasm backend computed the run in progress. */
  countWasm(kernelName: string): void {
    this.runsOf(kernelName).wasm++;
  }

  private runsOf(kernelName: string): KernelRuns {
    let runs = this.kernelRuns.get(kernelName);
    if (!runs) this.kernelRuns.set(kernelName, (runs = { runs: 0, wasm: 0, ms: 0 }));
    return runs;
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

  /**
   * Writes arguments by name: `ctx.write(SLOTS.moments, { x: ctx.offset(x), rows, channels })`,
   * or a struct's fields from its slot: `ctx.write(STRUCTS.poolGeometry, { N, ... }, SLOTS.maxPool.geometry)`.
   */
  write<S extends Slots>(slots: S, values: { readonly [K in keyof S]?: number }, base = 0): void {
    const p = this.params;
    for (const name in values) p[base + slots[name]] = values[name] as number;
  }
}
