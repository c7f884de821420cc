/** FusedBatchNorm (normalisation with given statistics), channels last (native/src/norm.cc). */
import type { FusedBatchNormAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

const fusedBatchNorm: NativeKernel = {
  kernelName: 'FusedBatchNorm',
  run(ctx, args, fallback) {
    const { x, mean, variance, offset, scale } = inputsOf(args, 'x', 'mean', 'variance', 'offset', 'scale');
    const { varianceEpsilon } = attrsOf<FusedBatchNormAttrs>(args);
    const n = sizeOf(x.shape);
    const C = x.shape[x.shape.length - 1] ?? 1;
    const fits = (t: TensorInfo | undefined) => !t || sizeOf(t.shape) === C || sizeOf(t.shape) === 1;
    if (!allFloat32(x, mean, variance, offset, scale) || n === 0 || ![mean, variance, offset, scale].every(fits)) return fallback(args);
    const out = ctx.backend.makeOutput([...x.shape], 'float32');
    const len = (t: TensorInfo | undefined) => (t ? sizeOf(t.shape) : 0);
    ctx.syncHeap();
    ctx.set(0, [
      ctx.offset(x), ctx.offset(mean), ctx.offset(variance), ctx.offsetOr(offset), ctx.offsetOr(scale), ctx.offset(out),
      n / C, C, varianceEpsilon, len(mean), len(variance), len(offset), len(scale),
    ]);
    ctx.addon.batchNorm();
    return out;
  },
};

export const normKernels: NativeKernel[] = [fusedBatchNorm];
