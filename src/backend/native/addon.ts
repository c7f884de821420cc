/**
 * Loads the native (oneDNN) addon built by native/build.mjs, and describes what it exports.
 * Every kernel function reads its arguments from one shared parameter block, at the slots
 * declared in native/src/param-layout.json (see ./param-layout.ts).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageRoot } from '../../util/package-root.js';
import { KERNEL_FUNCTIONS } from './param-layout.js';

export interface NativeAddonInfo {
  dnnl: string;
  threads: number;
  isa: string;
}

/** The addon's functions other than kernels. */
interface AddonPlumbing {
  setHeap(buffer: ArrayBufferLike): void;
  paramBlock(): ArrayBuffer;
  setThreads(n: number): number;
  info(): NativeAddonInfo;
  /** Fingerprint of the parameter layout the addon was compiled with. */
  paramLayout(): string;
}

export type KernelFunction = (typeof KERNEL_FUNCTIONS)[number];

export type NativeAddon = AddonPlumbing & Record<KernelFunction, () => void>;

const PLUMBING_FUNCTIONS = ['setHeap', 'paramBlock', 'setThreads', 'info', 'paramLayout'] as const satisfies readonly (keyof AddonPlumbing)[];
// Every function of AddonPlumbing is listed (a compile error otherwise).
const _allListed: Exclude<keyof AddonPlumbing, (typeof PLUMBING_FUNCTIONS)[number]> extends never ? true : never = true;

/** Every function the TypeScript side calls on the addon. */
export const ADDON_FUNCTIONS: readonly (keyof NativeAddon)[] = [...PLUMBING_FUNCTIONS, ...KERNEL_FUNCTIONS];

/** Calls of each kernel function (see countingAddon). */
export type CallCounts = Record<KernelFunction, number>;

export function zeroCounts(): CallCounts {
  return Object.fromEntries(KERNEL_FUNCTIONS.map((name) => [name, 0])) as CallCounts;
}

/**
 * The addon, with each kernel function adding one to `counts[name]` before it runs: a test can
 * see which kernels ran natively. It costs one JavaScript call per kernel call (each kernel call
 * is an N-API call that does a whole tensor's work).
 */
export function countingAddon(raw: NativeAddon, counts: CallCounts): NativeAddon {
  const addon = {} as Record<keyof NativeAddon, unknown>;
  for (const name of PLUMBING_FUNCTIONS) addon[name] = raw[name];
  for (const name of KERNEL_FUNCTIONS) {
    const kernel = raw[name];
    addon[name] = () => {
      counts[name]++;
      kernel();
    };
  }
  return addon as NativeAddon;
}

export const ADDON_RELATIVE_PATH = path.join('native', 'build', 'Release', 'fashion_cnn_native.node');

/** The addon's path in the package, when it was built. */
export function findAddonPath(): string | null {
  const candidate = path.join(packageRoot(), ADDON_RELATIVE_PATH);
  return existsSync(candidate) ? candidate : null;
}

/** The addon as loaded: its exports are checked (./preflight.ts) before anything uses them. */
export type AddonLoad = { ok: true; addon: unknown; path: string } | { ok: false; reason: string };

export function loadAddon(): AddonLoad {
  const file = findAddonPath();
  if (!file) return { ok: false, reason: 'the native addon is not built (npm install builds it when oneDNN is installed)' };
  try {
    const addon: unknown = createRequire(import.meta.url)(file);
    return { ok: true, addon, path: file };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { ok: false, reason: `the native addon does not load: ${msg}` };
  }
}
