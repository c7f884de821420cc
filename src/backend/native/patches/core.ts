/**
 * tfjs-core's CommonJS exports: the object tfjs-layers calls through (an ESM namespace import is a
 * read-only snapshot of it), and so the place where the native backend's patches go. ../preflight.ts
 * checks, before any patch, that tfjs-layers requires this same object and that each function
 * replaced here exists and can be replaced.
 */
import { createRequire } from 'node:module';
import type * as tf from '@tensorflow/tfjs-core';
import { NATIVE_BACKEND } from '../register.js';

export interface CoreExports {
  dropout: typeof tf.dropout;
  moments: typeof tf.moments;
  batchNorm: typeof tf.batchNorm;
  batchNorm2d: typeof tf.batchNorm2d;
  batchNorm3d: typeof tf.batchNorm3d;
  batchNorm4d: typeof tf.batchNorm4d;
  fused: { conv2d: typeof tf.fused.conv2d; matMul: typeof tf.fused.matMul };
  AdamOptimizer: typeof tf.AdamOptimizer;
  getBackend: typeof tf.getBackend;
  engine: typeof tf.engine;
}

export const core = createRequire(import.meta.url)('@tensorflow/tfjs-core') as CoreExports;

export const onNative = (): boolean => core.getBackend() === NATIVE_BACKEND;

/** True while TF.js records operations for a gradient (where it stops fusing ReLU into kernels). */
export const recordingGradients = (): boolean => core.engine().state.gradientDepth > 0;
