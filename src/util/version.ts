import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { packageVersion } from './package-root.js';

export { packageVersion };

export function versions(): Record<string, string> {
  return { 'fashion-cnn': packageVersion(), node: process.version, 'tfjs-core': tf.version_core, 'tfjs-layers': tfl.version_layers };
}
