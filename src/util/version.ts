import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

let cached: string | null = null;

export function packageVersion(): string {
  if (cached) return cached;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    cached = pkg.version;
  } catch {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
      cached = pkg.version;
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}

export function versions(): Record<string, string> {
  return { 'fashion-cnn': packageVersion(), node: process.version, 'tfjs-core': tf.version_core, 'tfjs-layers': tfl.version_layers };
}
