/**
 * Keras-style layers compute "convolution (or dense) + bias + ReLU" through tf.fused.conv2d and
 * tf.fused.matMul, but while TF.js records a gradient it stops fusing and runs four kernels (the
 * convolution, Add, Relu) whose backward pass costs another four (Step, Cast, Multiply, Sum), each
 * a full pass over the activations. On the native backend the patched ops run one oneDNN kernel
 * (bias and ReLU as post-ops) under a kernel name of our own, whose registered gradient computes
 * the ReLU gradient and the bias gradient in one pass. The gradient is TF.js's own formula for
 * fused layers (dy * step(y) with y the ReLU output, which equals step of the pre-activation), and
 * as a registered gradient it is computed only for the inputs that need one (not for the images
 * entering the first layer).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import { CONV_BIAS_ACT, MATMUL_BIAS_ACT, RELU_GRAD_BIAS, type ReluGradBiasAttrs } from '../kernels/fused.js';
import { MAX_POOL_GRAD_RECIPE, POOL_RELU_GRAD_BIAS, type MaxPoolGradRecipe, type PoolReluGradBiasAttrs } from '../kernels/pool.js';
import { core, onNative, recordingGradients } from './core.js';

type ConvArgs = Parameters<typeof tf.fused.conv2d>[0];
type MatMulArgs = Parameters<typeof tf.fused.matMul>[0];
type Act = 'relu' | 'linear';

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) => tf.engine().runKernel(name, inputs, attrs as NamedAttrMap);

const isFloat = (t: unknown, rank: number): t is tf.Tensor => t instanceof tf.Tensor && t.dtype === 'float32' && t.rank === rank;

function fusable(activation: string | undefined, bias: unknown, channels: number, prelu: unknown): activation is Act | undefined {
  return (activation === undefined || activation === 'relu' || activation === 'linear') && prelu == null && bias instanceof tf.Tensor && bias.dtype === 'float32' && bias.size === channels;
}

function convFits(a: ConvArgs): boolean {
  const dilations = a.dilations ?? 1;
  const unitDilation = Array.isArray(dilations) ? dilations.every((d) => d === 1) : dilations === 1;
  return isFloat(a.x, 4) && isFloat(a.filter, 4) && (a.dataFormat ?? 'NHWC') === 'NHWC' && unitDilation && fusable(a.activation, a.bias, (a.filter as tf.Tensor4D).shape[3], a.preluActivationWeights);
}

function matMulFits(a: MatMulArgs): boolean {
  return isFloat(a.a, 2) && isFloat(a.b, 2) && !a.transposeA && !a.transposeB && fusable(a.activation, a.bias, (a.b as tf.Tensor2D).shape[1], a.preluActivationWeights);
}

let context: NativeContext | null = null;

/**
 * [dy * step(y), bias gradient] for a layer whose output (after its activation) is y. When dy is
 * the still-deferred gradient of a max pooling of y, both come straight from the pooled gradient.
 */
function activationAndBiasGrad(dy: tf.Tensor, y: tf.Tensor, activation: Act): [tf.Tensor, tf.Tensor] {
  const recipe = context?.deferred.get(dy.dataId) as MaxPoolGradRecipe | undefined;
  if (recipe?.kind === MAX_POOL_GRAD_RECIPE && recipe.input.dataId === y.dataId) {
    const attrs: PoolReluGradBiasAttrs = { ...recipe.attrs, activation };
    return run(POOL_RELU_GRAD_BIAS, { dyPool: recipe.dy as tf.Tensor, y }, attrs) as unknown as [tf.Tensor, tf.Tensor];
  }
  const attrs: ReluGradBiasAttrs = { activation };
  return run(RELU_GRAD_BIAS, { dy, y }, attrs) as unknown as [tf.Tensor, tf.Tensor];
}

const convGradient: GradConfig = {
  kernelName: CONV_BIAS_ACT,
  inputsToSave: ['x', 'filter', 'bias'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, bias, y] = saved;
    const { strides, pad, dimRoundingMode, activation } = attrs as unknown as ConvArgs;
    const [dyAct, biasGrad] = activationAndBiasGrad(dy as tf.Tensor, y, (activation ?? 'linear') as Act);
    const common = { strides, pad, dataFormat: 'NHWC', dimRoundingMode };
    return {
      x: () => run('Conv2DBackpropInput', { dy: dyAct, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
      filter: () => run('Conv2DBackpropFilter', { x, dy: dyAct }, { ...common, filterShape: filter.shape }) as tf.Tensor,
      bias: () => tf.reshape(biasGrad, bias.shape),
    };
  },
};

const matMulGradient: GradConfig = {
  kernelName: MATMUL_BIAS_ACT,
  inputsToSave: ['a', 'b', 'bias'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [a, b, bias, y] = saved;
    const { activation } = attrs as unknown as MatMulArgs;
    const [dyAct, biasGrad] = activationAndBiasGrad(dy as tf.Tensor, y, (activation ?? 'linear') as Act);
    return {
      a: () => tf.matMul(dyAct, b, false, true),
      b: () => tf.matMul(a, dyAct, true, false),
      bias: () => tf.reshape(biasGrad, bias.shape),
    };
  },
};

export function patchLayerFusion(ctx: NativeContext): void {
  context = ctx;
  tf.registerGradient(convGradient);
  tf.registerGradient(matMulGradient);

  const conv2d = core.fused.conv2d;
  core.fused.conv2d = tf.op({
    fusedConv2d_: (args: ConvArgs): tf.Tensor4D => {
      if (!onNative() || !recordingGradients() || !convFits(args)) return conv2d(args) as tf.Tensor4D;
      const { x, filter, bias, strides, pad, dimRoundingMode, activation } = args;
      const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode, activation: activation ?? 'linear' };
      return run(CONV_BIAS_ACT, { x: x as tf.Tensor, filter: filter as tf.Tensor, bias: bias as tf.Tensor }, attrs) as tf.Tensor4D;
    },
  }) as unknown as typeof core.fused.conv2d;

  const matMul = core.fused.matMul;
  core.fused.matMul = tf.op({
    fusedMatMul_: (args: MatMulArgs): tf.Tensor => {
      if (!onNative() || !recordingGradients() || !matMulFits(args)) return matMul(args);
      const { a, b, bias, activation } = args;
      const attrs = { transposeA: false, transposeB: false, activation: activation ?? 'linear' };
      return run(MATMUL_BIAS_ACT, { a: a as tf.Tensor, b: b as tf.Tensor, bias: bias as tf.Tensor }, attrs) as tf.Tensor;
    },
  });
}
