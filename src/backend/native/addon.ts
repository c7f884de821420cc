/**
 * Loads the native (oneDNN) addon built by native/build.mjs, and describes what it exports.
 * Every kernel function takes the wasm heap and a parameter block holding its arguments, at the
 * slots declared in native/src/param-layout.json (see ./param-layout.ts and NativeContext.invoke).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageRoot } from '../../util/package-root.js';
import { KERNEL_FUNCTIONS, type KernelFunction } from './param-layout.js';
import { preferPassiveWaiting } from './wait-policy.js';

export interface NativeAddonInfo {
  dnnl: string;
  threads: number;
  isa: string;
}

/** The addon's functions other than kernels. */
/** The machine's float32 FMA peak on some threads (native/src/peak.cc), and the floats per vector it used. */
export interface PeakMeasurement {
  gflops: number;
  lanes: number;
}

interface AddonPlumbing {
  setThreads(n: number): number;
  /** The best GFLOP/s of an FMA loop on `threads` threads, over about `ms` milliseconds. */
  peakGflops(threads: number, ms: number): PeakMeasurement;
  info(): NativeAddonInfo;
  /** Fingerprint of the parameter layout the addon was compiled with. */
  paramLayout(): string;
}

export type { KernelFunction };

/**
 * A kernel function: the wasm heap's current buffer and the parameter block (PARAM_BLOCK_SIZE
 * doubles) go with every call. Called through NativeContext.invoke only.
 */
export type AddonKernel = (heap: ArrayBufferLike, params: ArrayBufferLike) => void;

export type NativeAddon = AddonPlumbing & Record<KernelFunction, AddonKernel>;

const PLUMBING_FUNCTIONS = ['setThreads', 'peakGflops', 'info', 'paramLayout'] as const satisfies readonly (keyof AddonPlumbing)[];
// Every function of AddonPlumbing is listed (a compile error otherwise).
const _allListed: Exclude<keyof AddonPlumbing, (typeof PLUMBING_FUNCTIONS)[number]> extends never ? true : never = true;

/** Every function the TypeScript side calls on the addon. */
export const ADDON_FUNCTIONS: readonly (keyof NativeAddon)[] = [...PLUMBING_FUNCTIONS, ...KERNEL_FUNCTIONS];

/** Calls of each kernel function (counted by NativeContext.invoke). */
export type CallCounts = Record<KernelFunction, number>;

export function zeroCounts(): CallCounts {
  return Object.fromEntries(KERNEL_FUNCTIONS.map((name) => [name, 0])) as CallCounts;
}

export const ADDON_RELATIVE_PATH = path.join('native', 'build', 'Release', 'fashion_cnn_native.node');

/** Another build of the addon to load instead (native/asan.mjs points it at its AddressSanitizer build). */
export const ADDON_ENV_VAR = 'FASHION_CNN_NATIVE_ADDON';

/** The addon's path: $FASHION_CNN_NATIVE_ADDON's, else the package's build, when it was built. */
export function findAddonPath(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidate = env[ADDON_ENV_VAR] ? path.resolve(env[ADDON_ENV_VAR]) : path.join(packageRoot(), ADDON_RELATIVE_PATH);
  return existsSync(candidate) ? candidate : null;
}

/** The addon as loaded: its exports are checked (./preflight.ts) before anything uses them. */
export type AddonLoad = { ok: true; addon: unknown; path: string } | { ok: false; reason: string };

export function loadAddon(): AddonLoad {
  const file = findAddonPath();
  if (!file) {
    const given = process.env[ADDON_ENV_VAR];
    return { ok: false, reason: given ? `$${ADDON_ENV_VAR} names ${given}, which does not exist` : 'the native addon is not built (npm install builds it when oneDNN is installed)' };
  }
  try {
    preferPassiveWaiting();
    const addon: unknown = createRequire(import.meta.url)(file);
    return { ok: true, addon, path: file };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { ok: false, reason: `the native addon does not load: ${msg}` };
  }
}
