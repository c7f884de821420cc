/**
 * The kernels fashion-cnn adds to (or replaces in) TF.js's wasm backend so that it can train the
 * project's CNNs, and fast: see each module for why.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch_mat_mul.js';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.js';
import { conv2DBackpropInputConfig } from './conv2d_backprop_input.js';
import { captureOriginal, WASM } from './heap.js';
import { maxPoolGradConfig } from './max_pool_grad.js';
import { meanConfig, sumConfig } from './reduce_leading.js';
import { castConfig, identityConfig } from './share_data.js';
import { tileConfig } from './tile.js';

export const TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig, // missing in stock wasm
  conv2DBackpropInputConfig, // the rest replace slow (or, MaxPoolGrad, wrong) stock kernels
  batchMatMulConfig,
  maxPoolGradConfig,
  sumConfig,
  meanConfig,
  tileConfig,
  identityConfig,
  castConfig,
];


let registered = false;

/** Registers the kernels once per process; safe to call again. */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  // Ours call stock kernels (XNNPACK products, convolutions, additions) and fall back to the
  // kernels they replace: remember those before replacing any.
  for (const name of ['Add', 'BatchMatMul', 'Conv2D', 'Transpose', ...TRAINING_KERNELS.map((k) => k.kernelName)]) captureOriginal(name);
  for (const config of TRAINING_KERNELS) {
    const stock = tf.getKernel(config.kernelName, WASM);
    if (stock) tf.unregisterKernel(config.kernelName, WASM);
    // The stock kernel (which ours may call) binds its wasm function in its setup, which the
    // engine runs only for kernels registered when the backend starts: keep it in ours.
    tf.registerKernel({ ...config, setupFunc: stock?.setupFunc });
  }
  registered = true;
}
