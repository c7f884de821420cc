/** Registered models made buildable for a test that builds every one of them. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { applyModelOptions, darknetDir, type ModelSpec } from '../../src/models/registry.js';

/**
 * The spec as a test can build it here: vgg19 with random weights (its ImageNet file is not
 * here), the generic transfer model on Tiny Darknet; a string (the reason to skip) when a
 * backbone it needs is not on this machine.
 */
export function runnableSpec(spec: ModelSpec): ModelSpec | string {
  if (spec.kind !== 'transfer') return spec;
  if (spec.backbone.source === 'vgg19') return applyModelOptions(spec, { weights: 'random' });
  const darknet = darknetDir();
  if (!existsSync(path.join(darknet, 'model.json'))) return `Tiny Darknet not found at ${darknet} (set $FASHION_CNN_DARKNET)`;
  return spec.backbone.path ? spec : applyModelOptions(spec, { backbone: darknet });
}
