/** MaxPool and MaxPoolGrad on NHWC tensors (native/src/pool.cc). */
import { backend_util, type MaxPoolAttrs, type MaxPoolGradAttrs } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

function setGeometry(ctx: NativeContext, c: backend_util.Conv2DInfo): boolean {
  const { top, left } = c.padInfo;
  if (top < 0 || left < 0) return false;
  ctx.set(4, [
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.outHeight, c.outWidth, c.filterHeight, c.filterWidth,
    c.strideHeight, c.strideWidth, c.dilationHeight, c.dilationWidth, top, left,
  ]);
  return true;
}

const maxPool: NativeKernel = {
  kernelName: 'MaxPool',
  run(ctx, args, fallback) {
    const { x } = inputsOf(args, 'x');
    const { filterSize, strides, pad, dimRoundingMode } = attrsOf<MaxPoolAttrs>(args);
    if (!allFloat32(x) || x.shape.length !== 4) return fallback(args);
    const info = backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    if (sizeOf(info.outShape) === 0 || sizeOf(x.shape) === 0 || !setGeometry(ctx, info)) return fallback(args);
    const out = ctx.backend.makeOutput(info.outShape, 'float32');
    ctx.syncHeap();
    ctx.set(0, [ctx.offset(x), ctx.offset(out)]);
    ctx.addon.maxPool();
    return out;
  },
};

const maxPoolGrad: NativeKernel = {
  kernelName: 'MaxPoolGrad',
  run(ctx, args, fallback) {
    const { dy, input } = inputsOf(args, 'dy', 'input');
    const { filterSize, strides, pad, dimRoundingMode } = attrsOf<MaxPoolGradAttrs>(args);
    if (!allFloat32(dy, input) || input.shape.length !== 4) return fallback(args);
    const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    if (sizeOf(input.shape) === 0 || !setGeometry(ctx, info)) return fallback(args);
    const out = ctx.backend.makeOutput([...input.shape], 'float32');
    ctx.syncHeap();
    ctx.set(0, [ctx.offset(dy), ctx.offset(input), ctx.offset(out)]);
    ctx.addon.maxPoolGrad();
    return out;
  },
};

export const poolKernels: NativeKernel[] = [maxPool, maxPoolGrad];
