/**
 * What the native backend relies on, checked before it installs anything.
 *
 * The backend replaces functions of tfjs-core's CommonJS exports (./patches/core.ts) and
 * AdamOptimizer.prototype.applyGradients (./patches/adam.ts), and reads engine and wasm-backend
 * internals. That works with the TF.js release it was written for, packaged as it is: tfjs-layers
 * calls tfjs-core through that same exports object. `preflight` checks each of those facts, and the
 * addon's exports and parameter layout, and returns the first that does not hold as a one-line
 * reason (initNativeBackend then falls back to wasm). It is a pure function of the objects it is
 * given, so that tests can hand it fakes.
 */
import { ADDON_FUNCTIONS } from './addon.js';
import { PARAM_LAYOUT_FINGERPRINT } from './param-layout.js';

/** The TF.js release the patches are written against; package.json pins every @tensorflow/* package to it. */
export const TFJS_VERSION = '4.22.0';

export const CHECKED_PACKAGES = ['tfjs-core', 'tfjs-layers', 'tfjs-backend-wasm'] as const;
export type CheckedPackage = (typeof CHECKED_PACKAGES)[number];

/** tfjs-core exports the patches replace (./patches/*.ts). */
export const PATCHED_CORE_EXPORTS = ['dropout', 'moments', 'batchNorm', 'batchNorm2d', 'batchNorm3d', 'batchNorm4d'] as const;
export const PATCHED_FUSED_EXPORTS = ['conv2d', 'matMul'] as const;
/** tfjs-core exports the patches call. */
const USED_CORE_EXPORTS = ['getBackend', 'engine'] as const;
/** Methods of the wasm backend instance that the native backend calls or wraps (./pending.ts). */
const USED_BACKEND_METHODS = ['makeOutput', 'incRef', 'disposeData', 'read', 'readSync', 'typedArrayFromHeap'] as const;

export interface PreflightSubject {
  /** The version of each package as installed (from its package.json), or undefined. */
  versions: Readonly<Record<CheckedPackage, unknown>>;
  /** tfjs-core's CommonJS exports object. */
  core: unknown;
  /** The tfjs-core exports object that tfjs-layers gets from require('@tensorflow/tfjs-core'). */
  layersCore: unknown;
  /** The wasm backend instance, whose heap holds the tensors. */
  backend: unknown;
  /** The addon's exports. */
  addon: unknown;
}

export interface PreflightExpectations {
  tfjsVersion: string;
  layoutFingerprint: string;
  addonFunctions: readonly string[];
}

export const EXPECTED: PreflightExpectations = {
  tfjsVersion: TFJS_VERSION,
  layoutFingerprint: PARAM_LAYOUT_FINGERPRINT,
  addonFunctions: ADDON_FUNCTIONS,
};

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => (typeof v === 'object' || typeof v === 'function') && v !== null;

/** Whether `obj[key] = value` would replace the property (own or inherited, data or accessor). */
function replaceable(obj: Obj, key: string): boolean {
  for (let o: object | null = obj; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (!d) continue;
    if (d.set) return true;
    if (!d.writable) return false;
    return o === obj || Object.isExtensible(obj);
  }
  return false;
}

/** Null when `obj[key]` is a function that assignment can replace, else what is wrong. */
function patchable(obj: Obj, key: string, label: string): string | null {
  if (typeof obj[key] !== 'function') return `${label} is not a function`;
  if (!replaceable(obj, key)) return `${label} cannot be replaced`;
  return null;
}

function checkVersions(versions: PreflightSubject['versions'], expected: string): string | null {
  for (const name of CHECKED_PACKAGES) {
    const v = versions[name];
    if (typeof v !== 'string') return `@tensorflow/${name}'s version is unknown; the native backend is written for ${expected}`;
    if (v !== expected) return `@tensorflow/${name} is ${v}, the native backend is written for ${expected}`;
  }
  return null;
}

function checkCore(core: unknown, layersCore: unknown): string | null {
  if (!isObject(core)) return "tfjs-core's CommonJS exports are not an object";
  for (const name of PATCHED_CORE_EXPORTS) {
    const problem = patchable(core, name, `tfjs-core's ${name}`);
    if (problem) return problem;
  }
  const fused = core.fused;
  if (!isObject(fused)) return "tfjs-core's fused is not an object";
  for (const name of PATCHED_FUSED_EXPORTS) {
    const problem = patchable(fused, name, `tfjs-core's fused.${name}`);
    if (problem) return problem;
  }
  for (const name of USED_CORE_EXPORTS) if (typeof core[name] !== 'function') return `tfjs-core's ${name} is not a function`;
  const adam = core.AdamOptimizer;
  if (typeof adam !== 'function' || !isObject(adam.prototype)) return "tfjs-core's AdamOptimizer is not a class";
  const proto = adam.prototype as Obj;
  const problem = patchable(proto, 'applyGradients', 'AdamOptimizer.prototype.applyGradients');
  if (problem) return problem;
  if (typeof proto.incrementIterations !== 'function') return 'AdamOptimizer.prototype.incrementIterations is not a function';
  const engine: unknown = (core.engine as () => unknown)();
  if (!isObject(engine)) return "tfjs-core's engine() is not an object";
  if (!isObject(engine.state) || typeof engine.state.gradientDepth !== 'number') return "tfjs-core's engine().state.gradientDepth is not a number";
  if (!isObject(engine.registeredVariables)) return "tfjs-core's engine().registeredVariables is not an object";
  if (layersCore !== core) return 'tfjs-layers loads another copy of tfjs-core than the one the native backend patches';
  return null;
}

function checkBackend(backend: unknown): string | null {
  if (!isObject(backend)) return 'the wasm backend is not an object';
  const map = backend.dataIdMap;
  if (!isObject(map) || typeof map.get !== 'function') return "the wasm backend's dataIdMap has no get()";
  const wasm = backend.wasm;
  if (!isObject(wasm) || !(wasm.HEAPU8 instanceof Uint8Array)) return "the wasm backend's wasm.HEAPU8 is not a Uint8Array";
  if (!(wasm.HEAPF32 instanceof Float32Array)) return "the wasm backend's wasm.HEAPF32 is not a Float32Array";
  for (const name of USED_BACKEND_METHODS) if (typeof backend[name] !== 'function') return `the wasm backend's ${name} is not a function`;
  return null;
}

const REBUILD = 'rebuild it with node native/build.mjs';

function checkAddon(addon: unknown, expected: PreflightExpectations): string | null {
  if (!isObject(addon)) return 'the native addon exports no object';
  if (typeof addon.paramLayout !== 'function') return `the native addon reports no parameter layout (it was built before this code); ${REBUILD}`;
  const built: unknown = (addon.paramLayout as () => unknown)();
  if (built !== expected.layoutFingerprint) {
    return `the native addon was built for parameter layout ${String(built)}, this code expects ${expected.layoutFingerprint}; ${REBUILD}`;
  }
  const missing = expected.addonFunctions.filter((name) => typeof addon[name] !== 'function');
  if (missing.length > 0) return `the native addon lacks ${missing.join(', ')}; ${REBUILD}`;
  return null;
}

/** Null when everything the native backend relies on holds, else the first thing that does not. */
export function preflight(subject: PreflightSubject, expected: PreflightExpectations = EXPECTED): string | null {
  return (
    checkVersions(subject.versions, expected.tfjsVersion) ??
    checkCore(subject.core, subject.layersCore) ??
    checkBackend(subject.backend) ??
    checkAddon(subject.addon, expected)
  );
}
