/**
 * What every native kernel needs: the addon, the wasm backend whose heap holds the tensors, and
 * the parameter block kernels read their arguments from.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { zeroCounts, type CallCounts, type NativeAddon, type NativeAddonInfo, type PeakMeasurement } from './addon.js';
import { CODES, FAMILIES, KERNEL_FAMILY, PARAM_BLOCK_SIZE, STRUCTS, type CodeList, type KernelArgs, type KernelFunction, type StructName } from './param-layout.js';
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

/** The slot layout of one kernel argument, as FAMILIES lists it. */
interface SlotSpec {
  readonly at: number;
  readonly struct?: StructName;
  readonly code?: CodeList;
  readonly length?: number;
}

/** The codes of each code list, as a set (to refuse an unknown one before the addon sees it). */
const VALID_CODES = Object.fromEntries(Object.entries(CODES).map(([list, codes]) => [list, new Set<number>(Object.values(codes))])) as Record<CodeList, Set<number>>;

export class NativeContext {
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
  /** The parameter block: a call's arguments, at the slots of ./param-layout.ts (see invoke). */
  private readonly params = new Float64Array(PARAM_BLOCK_SIZE);
  /** Kernel outputs whose computation waits until something reads them (see pending.ts). */
  readonly deferred: DeferredOutputs;

  constructor(
    /** The addon; its kernel functions are called through invoke only. */
    private readonly addon: NativeAddon,
    readonly backend: BackendWasm,
  ) {
    this.deferred = new DeferredOutputs(backend, (kind, fill) => this.timed(deferredFillName(kind), fill));
  }

  /** The addon's version, ISA and threads. */
  info(): NativeAddonInfo {
    return this.addon.info();
  }

  /** The machine's float32 FMA peak on `threads` threads (see native/src/peak.cc). */
  peak(threads: number, ms: number): PeakMeasurement {
    return this.addon.peakGflops(threads, ms);
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
   * Calls addon kernel `kernel` with `args` (by slot name, as param-layout.json names them): the
   * one way to run a native kernel. Call it once the outputs are allocated. It writes every
   * argument into the parameter block right before the call (slots it is not given hold NaN,
   * which the C++ side refuses to read), refuses an unknown operation code, and hands the addon
   * the wasm heap's current buffer with the block: allocating can grow the heap, which replaces
   * its buffer, and a call made with the buffer of the moment cannot use a stale one. Heap offsets
   * do not move when the heap grows.
   */
  invoke<K extends KernelFunction>(kernel: K, args: KernelArgs<K>): void {
    const family = FAMILIES[KERNEL_FAMILY[kernel]];
    const slots = family.slots as Readonly<Record<string, SlotSpec>>;
    const p = this.params;
    p.fill(NaN, 0, family.extent);
    for (const name in args) {
      const value = (args as Record<string, unknown>)[name];
      const slot = slots[name];
      if (!slot) throw new Error(`native kernel ${kernel}: no argument named ${name}`);
      if (value === undefined) continue;
      if (slot.struct) {
        const fields = STRUCTS[slot.struct] as Readonly<Record<string, number>>;
        const values = value as Readonly<Record<string, number>>;
        for (const f in fields) p[slot.at + fields[f]] = values[f];
      } else if (slot.length !== undefined) {
        const values = value as readonly number[];
        if (values.length > slot.length) throw new Error(`native kernel ${kernel}: ${name} holds ${slot.length} values, not ${values.length}`);
        p.set(values, slot.at);
      } else {
        const v = value as number;
        if (slot.code && !VALID_CODES[slot.code].has(v)) throw new Error(`native kernel ${kernel}: unknown ${slot.code} code ${v}`);
        p[slot.at] = v;
      }
    }
    this.calls[kernel]++;
    // The Emscripten module's typings are not shipped with tfjs-backend-wasm.
    const heap = (this.backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer;
    this.addon[kernel](heap, p.buffer);
  }
}
