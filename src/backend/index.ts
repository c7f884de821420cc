/**
 * The one seam through which the rest of fashion-cnn chooses where tensors are computed.
 *
 * Order of preference: an explicit request (flag), then $FASHION_CNN_BACKEND, then `native`
 * (oneDNN kernels, where the addon built), then `wasm` (portable, SIMD), with `cpu` (tfjs's pure-JS
 * reference backend) only on request. Everything above this folder calls `initBackend` once and
 * then uses plain TF.js.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { UserError } from '../util/errors.js';
import { BACKEND_NAMES, type BackendInfo, type BackendName } from './types.js';
import { initWasmBackend } from './wasm/index.js';
import { initNativeBackend } from './native/index.js';

export { BACKEND_NAMES, type BackendInfo, type BackendName } from './types.js';

export const BACKEND_ENV_VAR = 'FASHION_CNN_BACKEND';

// PROD mode: no debug-time checks, and no "install tfjs-node" banner from the cpu backend
// (tfjs-node cannot be installed here; our native backend is the fast path).
tf.env().set('PROD', true);

let current: BackendInfo | null = null;

export function parseBackendName(value: string, origin: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new UserError(`${origin}: unknown backend "${value}" (choose one of ${BACKEND_NAMES.join(', ')})`);
}

export interface BackendOptions {
  /** The native backend's threads in this process (default: $FASHION_CNN_THREADS, else OpenMP's). */
  threads?: number;
}

/** Initialises (once) and returns the backend in use. */
export async function initBackend(requested?: BackendName, opts: BackendOptions = {}): Promise<BackendInfo> {
  const envValue = process.env[BACKEND_ENV_VAR];
  const wanted = requested ?? (envValue ? parseBackendName(envValue, BACKEND_ENV_VAR) : undefined);
  if (current && (wanted === undefined || wanted === current.name)) return current;

  if (wanted === 'cpu') {
    await tf.setBackend('cpu');
    current = { name: 'cpu', description: 'cpu (tfjs pure JavaScript reference; slow)', threads: 1 };
    return current;
  }
  if (wanted === undefined || wanted === 'native') {
    const native = await initNativeBackend(opts.threads);
    if (native.ok) {
      current = native.info;
      return current;
    }
    if (wanted === 'native') {
      throw new UserError(`the native backend is not available: ${native.reason}`);
    }
    current = await initWasmBackend();
    current = { ...current, fallbackReason: `native backend unavailable (${native.reason}); using wasm` };
    return current;
  }
  current = await initWasmBackend();
  return current;
}

export function currentBackend(): BackendInfo | null {
  return current;
}

/** Per TF.js kernel, its runs, wasm hand-overs and time on the native backend so far (null before it starts). */
export { nativeKernelRuns, nativePeak } from './native/index.js';
export { userEnvironment } from './native/wait-policy.js';
export type { KernelRuns } from './native/context.js';
