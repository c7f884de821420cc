/** Shared helpers of the native-backend tests: start it (or say why not), and compare backends. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers TF.js's gradients
import { initNativeBackend, nativeCallCounts } from '../../src/backend/native/index.js';
import { ADDON_FUNCTIONS, type KernelFunction } from '../../src/backend/native/addon.js';
import { PARAM_LAYOUT_FINGERPRINT } from '../../src/backend/native/param-layout.js';
import { CHECKED_PACKAGES, TFJS_VERSION, type PreflightSubject } from '../../src/backend/native/preflight.js';
import { Rng } from '../../src/util/rng.js';

/** Starts the native backend once; the reason it is unavailable, or null when it runs. */
let started: Promise<string | null> | null = null;
export function startNative(): Promise<string | null> {
  started ??= initNativeBackend().then((r) => (r.ok ? null : `native backend unavailable: ${r.reason}`));
  return started;
}

/**
 * The `skip` option of a native-backend suite: the reason the backend is unavailable, except in CI
 * (CI set), which builds the addon: there the suite runs, and `requireNative` fails each test.
 */
export function nativeSkip(reason: string | null): string | false {
  if (reason === null || process.env.CI) return false;
  return reason;
}

/** Fails (in CI) when the native backend did not start. */
export async function requireNative(): Promise<void> {
  const reason = await startNative();
  assert.equal(reason, null, `${reason} (CI builds the native addon: it must start)`);
}

export interface Input {
  values: Float32Array;
  shape: number[];
}

export function randomInput(rng: Rng, shape: number[], lo = -1, hi = 1): Input {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform(lo, hi);
  return { values, shape };
}

export interface Output {
  values: Float32Array;
  shape: number[];
}

/** Runs `fn` on fresh copies of the inputs on one backend and returns copies of its outputs. */
export async function runOn(backend: string, inputs: Input[], fn: (...t: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<Output[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const ts = inputs.map((i) => tf.tensor(i.values, i.shape, 'float32'));
    const out = fn(...ts);
    return (Array.isArray(out) ? out : [out]).map((o) => ({ values: Float32Array.from(o.dataSync() as Float32Array), shape: o.shape }));
  });
}

/**
 * Element-wise |a - b| <= rtol * (|b| + rms(b)): relative, with the tensor's typical magnitude as
 * the floor where values cancel to nearly zero.
 */
export function assertClose(actual: Output[], expected: Output[], rtol = 1e-4, label = ''): void {
  assert.equal(actual.length, expected.length, `${label}: number of outputs`);
  actual.forEach((a, k) => {
    const e = expected[k];
    assert.deepEqual(a.shape, e.shape, `${label}: output ${k} shape`);
    let sq = 0;
    for (const v of e.values) sq += v * v;
    const rms = Math.sqrt(sq / Math.max(1, e.values.length));
    for (let i = 0; i < a.values.length; i++) {
      const x = a.values[i], y = e.values[i];
      if (Number.isNaN(y) && Number.isNaN(x)) continue;
      if (x === y) continue;
      const tol = rtol * (Math.abs(y) + rms);
      if (!(Math.abs(x - y) <= tol)) assert.fail(`${label}: output ${k}[${i}] = ${x}, reference ${y} (tolerance ${tol.toExponential(2)})`);
    }
  });
}

export type Calls = Partial<Record<KernelFunction, number>>;

/**
 * Calls of the addon's kernel functions during `fn` (those that ran), from the native backend's
 * own call counts, to prove that a native kernel ran.
 */
export async function countNativeCalls<T>(fn: () => Promise<T>): Promise<{ result: T; calls: Calls }> {
  const before = nativeCallCounts();
  assert.ok(before, 'the native backend has started');
  const result = await fn();
  const after = nativeCallCounts()!;
  const calls: Calls = {};
  for (const name of Object.keys(after) as KernelFunction[]) if (after[name] > before[name]) calls[name] = after[name] - before[name];
  return { result, calls };
}

/**
 * Runs `fn` on 'native' and on the reference 'cpu' backend, asserts the results agree, and that
 * the given addon function ran (no silent fallback to the wasm kernel).
 */
export async function checkAgainstCpu(
  label: string,
  inputs: Input[],
  fn: (...t: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  nativeFn: KernelFunction | KernelFunction[] | null,
  rtol = 1e-4,
): Promise<void> {
  const { result: native, calls } = await countNativeCalls(() => runOn('native', inputs, fn));
  const reference = await runOn('cpu', inputs, fn);
  for (const name of nativeFn === null ? [] : Array.isArray(nativeFn) ? nativeFn : [nativeFn]) {
    assert.ok((calls[name] ?? 0) > 0, `${label}: native ${name} did not run (calls: ${JSON.stringify(calls)})`);
  }
  assertClose(native, reference, rtol, label);
}

type Obj = Record<string, unknown>;
const fn = () => () => undefined;

/** A preflight subject made of fakes that passes every check (tests change one thing in it). */
export function fakePreflightSubject(): PreflightSubject & { core: Obj; backend: Obj; addon: Obj } {
  class AdamOptimizer {
    applyGradients(): void {}
    incrementIterations(): void {}
  }
  const engine = { state: { gradientDepth: 0 }, registeredVariables: {} };
  const core: Obj = {
    dropout: fn(), moments: fn(), batchNorm: fn(), batchNorm2d: fn(), batchNorm3d: fn(), batchNorm4d: fn(),
    fused: { conv2d: fn(), matMul: fn() },
    AdamOptimizer,
    getBackend: fn(),
    engine: () => engine,
  };
  const backend: Obj = {
    dataIdMap: { get: fn() },
    wasm: { HEAPU8: new Uint8Array(16), HEAPF32: new Float32Array(4) },
    makeOutput: fn(), incRef: fn(), disposeData: fn(), read: fn(), readSync: fn(), typedArrayFromHeap: fn(),
  };
  const addon: Obj = Object.fromEntries(ADDON_FUNCTIONS.map((name) => [name, fn()]));
  addon.paramLayout = () => PARAM_LAYOUT_FINGERPRINT;
  const versions = Object.fromEntries(CHECKED_PACKAGES.map((p) => [p, TFJS_VERSION])) as PreflightSubject['versions'];
  return { versions, core, layersCore: core, backend, addon };
}
