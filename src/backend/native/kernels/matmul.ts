/** BatchMatMul and _FusedMatMul (bias and activation fused) on oneDNN (native/src/matmul.cc). */
import { broadcast_util, type BatchMatMulAttrs, type TensorInfo, type _FusedMatMulAttrs } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import { ACTIVATION } from '../params.js';
import type { Code } from '../param-layout.js';
import { allFloat32, attrsOf, inputsOf, sizeOf, type KernelArgs, type KernelResult, type NativeKernel } from './types.js';

function matmul(
  ctx: NativeContext,
  args: KernelArgs,
  fallback: (a: KernelArgs) => KernelResult,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  bias: TensorInfo | null,
  act: Code<'activation'>,
  alpha: number,
): KernelResult {
  const ra = a.shape.length, rb = b.shape.length;
  if (ra < 2 || rb < 2) return fallback(args);
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA), batchB = sizeOf(outerB);
  if (K !== Kb || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return fallback(args);
  if (M * N * K === 0 || batchA * batchB === 0) return fallback(args);
  if (bias && (sizeOf(bias.shape) !== N || bias.shape[bias.shape.length - 1] !== N)) return fallback(args);
  const outShape = [...broadcast_util.assertAndGetBroadcastShape(outerA, outerB), M, N];
  const out = ctx.backend.makeOutput(outShape, 'float32');
  ctx.invoke('matmul', {
    a: ctx.offset(a), b: ctx.offset(b), bias: ctx.offsetOr(bias), out: ctx.offset(out),
    batchA, batchB, M, K, N, transposeA: transposeA ? 1 : 0, transposeB: transposeB ? 1 : 0, activation: act, alpha,
  });
  return out;
}

const batchMatMul: NativeKernel = {
  kernelName: 'BatchMatMul',
  run(ctx, args, fallback) {
    const { a, b } = inputsOf(args, 'a', 'b');
    const { transposeA, transposeB } = attrsOf<BatchMatMulAttrs>(args);
    if (!allFloat32(a, b)) return fallback(args);
    return matmul(ctx, args, fallback, a, b, transposeA, transposeB, null, ACTIVATION.linear, 0);
  },
};

export const fusedMatMul: NativeKernel = {
  kernelName: '_FusedMatMul',
  run(ctx, args, fallback) {
    const { a, b, bias, preluActivationWeights } = inputsOf(args, 'a', 'b', 'bias', 'preluActivationWeights');
    const { transposeA, transposeB, activation, leakyreluAlpha } = attrsOf<_FusedMatMulAttrs>(args);
    const act = ACTIVATION[activation as keyof typeof ACTIVATION];
    if (!allFloat32(a, b, bias) || act === undefined || preluActivationWeights) return fallback(args);
    return matmul(ctx, args, fallback, a, b, transposeA, transposeB, bias ?? null, act, leakyreluAlpha ?? 0.2);
  },
};

export const matmulKernels: NativeKernel[] = [batchMatMul, fusedMatMul];
