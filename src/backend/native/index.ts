/**
 * The native backend: oneDNN kernels (a Node addon, native/) working in place on the TF.js wasm
 * backend's heap, registered with TF.js as backend 'native'.
 *
 *   addon.ts         loads native/build/Release/fashion_cnn_native.node (built by native/build.mjs)
 *   preflight.ts     checks, before anything is installed, what the backend relies on
 *   param-layout.ts  where each kernel's arguments go (generated from native/src/param-layout.json)
 *   register.ts      backend 'native' = the wasm backend's instance, plus native kernels
 *   kernels/         the native kernels, one file per family; each hands over to wasm for what it
 *                    does not handle
 *   pending.ts       deferred outputs, filled when read, so that fused kernels can skip memory passes
 *   patches/         tf.dropout, Adam, fused layers and batch norm: TF.js work done outside kernels,
 *                    routed to native kernels while the native backend is current
 *
 * Threads: OpenMP's default (OMP_NUM_THREADS, else every core); FASHION_CNN_THREADS overrides it.
 * On a machine where other processes keep the cores busy, 1 thread is much faster than 2 (every
 * parallel region waits for a descheduled thread).
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { BackendInfo } from '../types.js';
import { initWasmBackend } from '../wasm/index.js';
import { loadAddon, type CallCounts, type NativeAddon, type NativeAddonInfo, type PeakMeasurement } from './addon.js';
import { NativeContext, type KernelRuns } from './context.js';
import { NATIVE_KERNELS } from './kernels/index.js';
import { core } from './patches/core.js';
import { installNativePatches } from './patches/index.js';
import { CHECKED_PACKAGES, preflight, type CheckedPackage, type PreflightSubject } from './preflight.js';
import { NATIVE_BACKEND, registerNativeBackend } from './register.js';

export type NativeInit = { ok: true; info: BackendInfo } | { ok: false; reason: string };

export const THREADS_ENV_VAR = 'FASHION_CNN_THREADS';

let context: NativeContext | null = null;

/** The live native context (addon + heap), once initNativeBackend has succeeded. */
export function nativeContext(): NativeContext | null {
  return context;
}

/** How many times each kernel function of the addon has run so far (a copy), or null before start-up. */
export function nativeCallCounts(): CallCounts | null {
  return context ? { ...context.calls } : null;
}

/** Per TF.js kernel, its runs on the native backend and how many of them wasm computed (a copy), or null before start-up. */
export function nativeKernelRuns(): Map<string, KernelRuns> | null {
  return context ? new Map([...context.kernelRuns].map(([k, r]) => [k, { ...r }])) : null;
}

/**
 * The machine's float32 peak (an FMA loop in the addon, with the vectors of the instruction set
 * oneDNN uses) on `threads` threads, measured for about `ms` milliseconds; null before start-up.
 */
export function nativePeak(threads: number, ms = 300): PeakMeasurement | null {
  return context ? context.peak(threads, ms) : null;
}

function describe(info: NativeAddonInfo): string {
  return `native (oneDNN ${info.dnnl}, ${info.isa}, ${info.threads} thread${info.threads === 1 ? '' : 's'})`;
}

/** The objects the preflight checks, as this process has them (exported for tests). */
export function preflightSubject(addon: unknown, backend: BackendWasm): PreflightSubject {
  const require = createRequire(import.meta.url);
  const version = (pkg: CheckedPackage): unknown => {
    try {
      return (require(`@tensorflow/${pkg}/package.json`) as { version?: unknown }).version;
    } catch {
      return undefined;
    }
  };
  const versions = Object.fromEntries(CHECKED_PACKAGES.map((p) => [p, version(p)])) as Record<CheckedPackage, unknown>;
  let layersCore: unknown;
  try {
    // What tfjs-layers' own require('@tensorflow/tfjs-core') returns (without loading tfjs-layers).
    layersCore = createRequire(require.resolve('@tensorflow/tfjs-layers'))('@tensorflow/tfjs-core');
  } catch {
    layersCore = undefined;
  }
  return { versions, core, layersCore, backend, addon };
}

/** Loads the addon, registers backend 'native' and makes it current (with `threadsWanted` threads, else $FASHION_CNN_THREADS's). Never throws. */
export async function initNativeBackend(threadsWanted?: number): Promise<NativeInit> {
  try {
    if (!context) {
      const loaded = loadAddon();
      if (!loaded.ok) return { ok: false, reason: loaded.reason };
      await initWasmBackend();
      const backend = tf.findBackend('wasm') as BackendWasm | null;
      if (!backend) return { ok: false, reason: 'the wasm backend, which holds the native backend\'s tensors, did not start' };
      // Nothing is registered, patched or wrapped before this point.
      const problem = preflight(preflightSubject(loaded.addon, backend));
      if (problem) return { ok: false, reason: problem };
      const addon = loaded.addon as NativeAddon;
      const threads = threadsWanted ?? Number(process.env[THREADS_ENV_VAR]);
      if (Number.isInteger(threads) && threads > 0) addon.setThreads(threads);
      context = new NativeContext(addon, backend);
      registerNativeBackend(backend, context, NATIVE_KERNELS);
      installNativePatches(context);
    }
    if (!(await tf.setBackend(NATIVE_BACKEND))) return { ok: false, reason: 'TF.js could not switch to the native backend' };
    const info = context.info();
    return { ok: true, info: { name: 'native', description: describe(info), threads: info.threads } };
  } catch (e) {
    return { ok: false, reason: `the native backend failed to start: ${e instanceof Error ? e.message : String(e)}` };
  }
}
