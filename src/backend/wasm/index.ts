import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendInfo } from '../types.js';
import { registerWasmTrainingKernels } from './register.js';

export { registerWasmTrainingKernels, TRAINING_KERNELS } from './register.js';

export async function initWasmBackend(): Promise<BackendInfo> {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return { name: 'wasm', description: `wasm (${simd ? 'SIMD' : 'no SIMD'}, 1 thread)`, threads: 1 };
}
