/**
 * Kernels of the native training path for "convolution or dense layer (+ bias) + ReLU" (see
 * ../patches/layer-fusion.ts): the forward pass in one oneDNN call, and the ReLU gradient with the
 * bias gradient in one pass (native/src/fused.cc).
 */
import { elementwiseKernels } from './elementwise.js';
import { fusedConv2D } from './conv.js';
import { fusedMatMul } from './matmul.js';
import { attrsOf, inputsOf, sizeOf, type NativeKernel } from './types.js';

export const CONV_BIAS_ACT = 'FashionCnnConv2D';
export const MATMUL_BIAS_ACT = 'FashionCnnMatMul';
export const RELU_GRAD_BIAS = 'FashionCnnReluGradBias';

export interface ReluGradBiasAttrs {
  activation: 'relu' | 'linear';
  /** Whether to compute the per-channel sum (the layer's bias gradient). */
  biasGrad: boolean;
}

const identityKernel = elementwiseKernels.find((k) => k.kernelName === 'Identity')!;

/** TF.js's FusedConv2D under a name of our own, whose gradient is ours (registered with the patch). */
const convBiasAct: NativeKernel = { kernelName: CONV_BIAS_ACT, fallbackName: 'FusedConv2D', run: fusedConv2D.run };

/** TF.js's _FusedMatMul under a name of our own, whose gradient is ours. */
const matMulBiasAct: NativeKernel = { kernelName: MATMUL_BIAS_ACT, fallbackName: '_FusedMatMul', run: fusedMatMul.run };

/**
 * [dy * step(y), sum of that over every axis but the last] for a layer with ReLU output y (dy
 * itself for a linear one); only the first without `biasGrad`.
 */
const reluGradBias: NativeKernel = {
  kernelName: RELU_GRAD_BIAS,
  run(ctx, args, fallback) {
    const { dy, y } = inputsOf(args, 'dy', 'y');
    const { activation, biasGrad } = attrsOf<ReluGradBiasAttrs>(args);
    const C = dy.shape[dy.shape.length - 1];
    const n = sizeOf(dy.shape);
    const relu = activation === 'relu';
    const dyAct = relu ? ctx.backend.makeOutput([...dy.shape], 'float32') : (identityKernel.run(ctx, { ...args, inputs: { x: dy } }, fallback) as typeof dy);
    const bias = biasGrad ? ctx.backend.makeOutput([C], 'float32') : null;
    const outputs = bias ? [dyAct, bias] : [dyAct];
    if (n === 0 || (!relu && !bias)) return outputs;
    ctx.invoke('reluGradBias', {
      dy: ctx.offset(dy), y: relu ? ctx.offset(y) : -1, dyAct: relu ? ctx.offset(dyAct) : -1, bias: ctx.offsetOr(bias), rows: n / C, channels: C,
    });
    return outputs;
  },
};

export const fusedKernels: NativeKernel[] = [convBiasAct, matMulBiasAct, reluGradBias];
