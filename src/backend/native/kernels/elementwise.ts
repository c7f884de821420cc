/**
 * Element-wise kernels (native/src/eltwise.cc), plus the zero-copy Identity and same-dtype Cast
 * that TF.js's cpu backend also uses (the wasm backend copies; tensors are immutable, so sharing
 * the data is safe).
 */
import { backend_util, type CastAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import { BINARY, MAX_BINARY_RANK, UNARY } from '../params.js';
import { ARRAY_LENGTHS } from '../param-layout.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

type UnaryName = keyof typeof UNARY;

function unaryParams(name: UnaryName, attrs: Record<string, unknown>): [number, number] {
  switch (name) {
    case 'Step':
      return [Number(attrs.alpha ?? 0), 0];
    case 'LeakyRelu':
      return [Number(attrs.alpha ?? 0.2), 0];
    case 'ClipByValue':
      return [Number(attrs.clipValueMin), Number(attrs.clipValueMax)];
    default:
      return [0, 0];
  }
}

function unaryKernel(name: UnaryName): NativeKernel {
  const op = UNARY[name];
  return {
    kernelName: name,
    run(ctx, args, fallback) {
      const { x } = inputsOf(args, 'x');
      const n = sizeOf(x.shape);
      if (!allFloat32(x) || n === 0) return fallback(args);
      const [alpha, beta] = unaryParams(name, attrsOf<Record<string, unknown>>(args));
      const out = ctx.backend.makeOutput([...x.shape], 'float32');
      ctx.invoke('unary', { op, x: ctx.offset(x), y: ctx.offset(out), count: n, alpha, beta });
      return out;
    },
  };
}

/** Element strides of `shape` seen through the broadcast output shape (0 where it broadcasts). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = i + outShape.length - shape.length;
    strides[o] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

function binaryKernel(name: keyof typeof BINARY): NativeKernel {
  const op = BINARY[name];
  return {
    kernelName: name,
    run(ctx, args, fallback) {
      const { a, b } = inputsOf(args, 'a', 'b');
      if (!allFloat32(a, b)) return fallback(args);
      const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const rank = outShape.length;
      if (rank > MAX_BINARY_RANK || sizeOf(outShape) === 0) return fallback(args);
      const out = ctx.backend.makeOutput(outShape, 'float32');
      // The kernel reads the first `rank` entries of the shape and of each operand's strides.
      ctx.invoke('binary', {
        op, a: ctx.offset(a), b: ctx.offset(b), out: ctx.offset(out), rank, aSize: sizeOf(a.shape), bSize: sizeOf(b.shape),
        outShape, aStrides: broadcastStrides(a.shape, outShape), bStrides: broadcastStrides(b.shape, outShape),
      });
      return out;
    },
  };
}

const addN: NativeKernel = {
  kernelName: 'AddN',
  run(ctx, args, fallback) {
    const tensors = Object.values(args.inputs) as TensorInfo[];
    const n = tensors.length ? sizeOf(tensors[0].shape) : 0;
    if (n === 0 || tensors.length > ARRAY_LENGTHS.addN.inputs || !allFloat32(...tensors) || tensors.some((t) => sizeOf(t.shape) !== n)) return fallback(args);
    const out = ctx.backend.makeOutput([...tensors[0].shape], 'float32');
    ctx.invoke('addN', { out: ctx.offset(out), count: n, inputCount: tensors.length, inputs: tensors.map((t) => ctx.offset(t)) });
    return out;
  },
};

function share(ctx: NativeContext, x: TensorInfo): TensorInfo {
  ctx.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

const identity: NativeKernel = {
  kernelName: 'Identity',
  run(ctx, args) {
    return share(ctx, inputsOf(args, 'x').x);
  },
};

const cast: NativeKernel = {
  kernelName: 'Cast',
  run(ctx, args, fallback) {
    const { x } = inputsOf(args, 'x');
    return attrsOf<CastAttrs>(args).dtype === x.dtype ? share(ctx, x) : fallback(args);
  },
};

export const elementwiseKernels: NativeKernel[] = [
  ...(Object.keys(UNARY) as UnaryName[]).map(unaryKernel),
  ...(Object.keys(BINARY) as (keyof typeof BINARY)[]).map(binaryKernel),
  addN,
  identity,
  cast,
];
