/**
 * Kernels of the native backend's own (not TF.js kernels): dropout multipliers and the fused Adam
 * update. Dropout and Adam are reached through the patches in ../patches/.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { aleaSeed } from '../alea.js';
import type { NativeContext } from '../context.js';
import { RANDOM_MODE } from '../params.js';
import type { Code } from '../param-layout.js';
import { attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

export const DROPOUT_MASK = 'FashionCnnDropoutMask';
export const DROPOUT = 'FashionCnnDropout';
export const DROPOUT_APPLY_MASK = 'FashionCnnDropoutApplyMask';
export const ADAM_UPDATE = 'FashionCnnAdamUpdate';
export const RANDOM_UNIFORM = 'FashionCnnRandomUniform';

export interface DropoutMaskAttrs {
  shape: number[];
  keepProb: number;
  seed: string;
}

/**
 * [x times the dropout multiplier of DropoutMaskAttrs (the mask's shape equal to x's), the mask as
 * bits (int32 words; element 32 i + j is kept when bit j of word i is set)].
 */
export interface DropoutAttrs {
  keepProb: number;
  seed: string;
}

export interface RandomUniformAttrs {
  shape: number[];
  minval: number;
  maxval: number;
  seed: string;
}

export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
}

/**
 * Calls randomFill: the generator seeded with `seed` (none for applyBits); x and bits are heap
 * offsets, or -1 for the modes that do not read them.
 */
function randomFill(ctx: NativeContext, mode: Code<'randomMode'>, out: TensorInfo, count: number, seed: string | null, minOrKeep: number, range = 0, x = -1, bits = -1): void {
  const s = seed === null ? { carry: 0, s0: 0, s1: 0, s2: 0 } : aleaSeed(seed);
  ctx.invoke('randomFill', { out: ctx.offset(out), count, mode, carry: s.carry, s0: s.s0, s1: s.s1, s2: s.s2, minOrKeep, range, x, bits });
}

const dropoutMask: NativeKernel = {
  kernelName: DROPOUT_MASK,
  run(ctx, args) {
    const { shape, keepProb, seed } = attrsOf<DropoutMaskAttrs>(args);
    const out = ctx.backend.makeOutput(shape, 'float32');
    const n = sizeOf(shape);
    if (n === 0) return out;
    randomFill(ctx, RANDOM_MODE.dropoutMultiplier, out, n, seed, keepProb);
    return out;
  },
};

const dropout: NativeKernel = {
  kernelName: DROPOUT,
  run(ctx, args) {
    const { x } = inputsOf(args, 'x');
    const { keepProb, seed } = attrsOf<DropoutAttrs>(args);
    const n = sizeOf(x.shape);
    const out = ctx.backend.makeOutput([...x.shape], 'float32');
    const bits = ctx.backend.makeOutput([Math.ceil(n / 32)], 'int32');
    if (n === 0) return [out, bits];
    randomFill(ctx, RANDOM_MODE.dropoutWithBits, out, n, seed, keepProb, 0, ctx.offset(x), ctx.offset(bits));
    return [out, bits];
  },
};

/** x times the multiplier a dropout mask's bits stand for (the gradient of DROPOUT). */
const dropoutApplyMask: NativeKernel = {
  kernelName: DROPOUT_APPLY_MASK,
  run(ctx, args) {
    const { x, bits } = inputsOf(args, 'x', 'bits');
    const { keepProb } = attrsOf<DropoutAttrs>(args);
    const n = sizeOf(x.shape);
    const out = ctx.backend.makeOutput([...x.shape], 'float32');
    if (n === 0) return out;
    randomFill(ctx, RANDOM_MODE.applyBits, out, n, null, keepProb, 0, ctx.offset(x), ctx.offset(bits));
    return out;
  },
};

/** tf.randomUniform's numbers (float32), for testing the generator against TF.js's own. */
const randomUniform: NativeKernel = {
  kernelName: RANDOM_UNIFORM,
  run(ctx, args) {
    const { shape, minval, maxval, seed } = attrsOf<RandomUniformAttrs>(args);
    const out = ctx.backend.makeOutput(shape, 'float32');
    const n = sizeOf(shape);
    if (n === 0) return out;
    randomFill(ctx, RANDOM_MODE.uniform, out, n, seed, minval, maxval - minval);
    return out;
  },
};

/**
 * One Adam step for one variable: returns [value, first moment, second moment], computed with
 * the float32 scalars TF.js's AdamOptimizer would use, in its order of operations.
 */
const adamUpdate: NativeKernel = {
  kernelName: ADAM_UPDATE,
  run(ctx, args) {
    const { value, gradient, m, v, oneMinusAccBeta1, oneMinusAccBeta2 } = inputsOf(args, 'value', 'gradient', 'm', 'v', 'oneMinusAccBeta1', 'oneMinusAccBeta2');
    const { beta1, beta2, epsilon, learningRate } = attrsOf<AdamUpdateAttrs>(args);
    const n = sizeOf(value.shape);
    const scalar = (t: TensorInfo) => (ctx.backend.typedArrayFromHeap(t) as Float32Array)[0];
    const outs = [0, 1, 2].map(() => ctx.backend.makeOutput([...value.shape], 'float32'));
    if (n === 0) return outs;
    const f = Math.fround;
    ctx.invoke('adamUpdate', {
      value: ctx.offset(value), gradient: ctx.offset(gradient), m: ctx.offset(m), v: ctx.offset(v), count: n,
      newValue: ctx.offset(outs[0]), newM: ctx.offset(outs[1]), newV: ctx.offset(outs[2]),
      beta1: f(beta1), oneMinusBeta1: f(1 - beta1), beta2: f(beta2), oneMinusBeta2: f(1 - beta2),
      oneMinusAccBeta1: scalar(oneMinusAccBeta1), oneMinusAccBeta2: scalar(oneMinusAccBeta2),
      epsilon: f(epsilon), negLearningRate: f(-learningRate),
    });
    return outs;
  },
};

export const trainingKernels: NativeKernel[] = [dropoutMask, dropout, dropoutApplyMask, randomUniform, adamUpdate];
