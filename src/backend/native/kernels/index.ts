import { convKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { fusedKernels } from './fused.js';
import { matmulKernels } from './matmul.js';
import { normKernels } from './norm.js';
import { poolKernels } from './pool.js';
import { reduceKernels } from './reduce.js';
import { trainingKernels } from './training.js';
import type { NativeKernel } from './types.js';

/** Every kernel the native backend computes itself (the rest are the wasm backend's). */
export const NATIVE_KERNELS: readonly NativeKernel[] = [
  ...convKernels,
  ...matmulKernels,
  ...poolKernels,
  ...elementwiseKernels,
  ...reduceKernels,
  ...normKernels,
  ...trainingKernels,
  ...fusedKernels,
];
