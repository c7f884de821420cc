/**
 * Places where TF.js does the work outside its kernels (or splits it into many small kernels),
 * patched to reach native kernels when, and only when, the native backend is current; on other
 * backends the originals run. The models themselves are unchanged. See each module for why.
 */
import { patchAdam } from './adam.js';
import { patchBatchNorm } from './batch-norm.js';
import { patchDropout } from './dropout.js';
import { patchLayerFusion } from './layer-fusion.js';
import type { NativeContext } from '../context.js';

let installed = false;

export function installNativePatches(ctx: NativeContext): void {
  if (installed) return;
  installed = true;
  patchDropout();
  patchAdam();
  patchLayerFusion(ctx);
  patchBatchNorm(ctx);
}
