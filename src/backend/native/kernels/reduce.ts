/**
 * Sum, Mean, Max and Min over contiguous axes, seen as [outer, reduced, inner]
 * (native/src/reduce.cc); other axis sets go to the wasm kernel.
 */
import { backend_util, util } from '@tensorflow/tfjs-core';
import { REDUCE } from '../params.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

/** [outer, reduced, inner] when the reduced axes (ignoring size-1 dimensions) are contiguous. */
export function reductionView(shape: readonly number[], axes: readonly number[]): [number, number, number] | null {
  const reduced = new Set(axes);
  let outer = 1, red = 1, inner = 1;
  let phase = 0; // 0: before the reduced block, 1: inside it, 2: after it
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    if (reduced.has(i)) {
      if (phase === 2) return null;
      phase = 1;
      red *= shape[i];
    } else if (phase === 0) {
      outer *= shape[i];
    } else {
      phase = 2;
      inner *= shape[i];
    }
  }
  return [outer, red, inner];
}

function reduceKernel(name: keyof typeof REDUCE, axisAttr: 'axis' | 'reductionIndices'): NativeKernel {
  const op = REDUCE[name];
  return {
    kernelName: name,
    run(ctx, args, fallback) {
      const { x } = inputsOf(args, 'x');
      const attrs = attrsOf<Record<string, unknown>>(args);
      if (!allFloat32(x) || sizeOf(x.shape) === 0) return fallback(args);
      const axes = util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
      const view = reductionView(x.shape, axes);
      if (!view) return fallback(args);
      const [outer, reduced, inner] = view;
      const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
      const shape = attrs.keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
      const out = ctx.backend.makeOutput(shape, 'float32');
      ctx.invoke('reduce', { op, x: ctx.offset(x), y: ctx.offset(out), outer, reduced, inner });
      return out;
    },
  };
}

export const reduceKernels: NativeKernel[] = [
  reduceKernel('Sum', 'axis'),
  reduceKernel('Mean', 'axis'),
  reduceKernel('Max', 'reductionIndices'),
  reduceKernel('Min', 'axis'),
];
