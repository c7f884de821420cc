/**
 * Keras-style layers compute "convolution (or dense) + bias + ReLU" through tf.fused.conv2d and
 * tf.fused.matMul, but while TF.js records a gradient it stops fusing and runs three kernels (the
 * convolution, Add, Relu) whose backward pass costs another four (Step, Cast, Multiply, Sum), each
 * a full pass over the activations. On the native backend the patched ops run one oneDNN kernel
 * (bias and ReLU as post-ops) under a kernel name of our own, whose registered gradient computes
 * the ReLU gradient and the bias gradient in one pass. The gradient is TF.js's own formula for
 * fused layers (dy * step(y) with y the ReLU output, which equals step of the pre-activation), and
 * as a registered gradient it is computed only for the inputs that need one (not for the images
 * entering the first layer). Layers without a bias take the same path, with no bias gradient.
 * A first layer that is a 3x3 convolution of one channel followed by 2x2 max pooling gets its
 * filter and bias gradients from the pooled gradient in one kernel (firstLayerGradient).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs-core';
import type { NativeContext } from '../context.js';
import { CONV_BIAS_ACT, MATMUL_BIAS_ACT, RELU_GRAD_BIAS, type ReluGradBiasAttrs } from '../kernels/fused.js';
import { CONV_POOL_FILTER_GRAD, convPoolFilterGradFits, MAX_POOL_GRAD_RECIPE, POOL_RELU_GRAD_BIAS, type ConvPoolFilterGradAttrs, type MaxPoolGradRecipe, type PoolReluGradBiasAttrs } from '../kernels/pool.js';
import { core, onNative, recordingGradients } from './core.js';

type ConvArgs = Parameters<typeof tf.fused.conv2d>[0];
type MatMulArgs = Parameters<typeof tf.fused.matMul>[0];
type Act = 'relu' | 'linear';

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) => tf.engine().runKernel(name, inputs, attrs as NamedAttrMap);

const isFloat = (t: unknown, rank: number): t is tf.Tensor => t instanceof tf.Tensor && t.dtype === 'float32' && t.rank === rank;

/** A float32 bias of `channels` values, or none. */
const biasFits = (bias: unknown, channels: number): boolean =>
  bias == null || (bias instanceof tf.Tensor && bias.dtype === 'float32' && bias.size === channels);

function fusable(activation: string | undefined, bias: unknown, channels: number, prelu: unknown): activation is Act | undefined {
  return (activation === undefined || activation === 'relu' || activation === 'linear') && prelu == null && biasFits(bias, channels);
}

/** Attributes of our fused kernels beyond TF.js's: the bias's shape, when there is a bias. */
interface BiasShapeAttr {
  biasShape?: number[];
}

/** Whether the layer's input can need a gradient (false: the images entering the network). */
interface InputGradAttr {
  inputNeedsGrad?: boolean;
}

/**
 * Whether a gradient can flow to `t` in the gradient being recorded: it is a variable, or some
 * recorded operation made it. Otherwise (the images a model is trained on) TF.js never asks for
 * its gradient. When the tape cannot be seen, it is assumed that it can.
 */
function mayNeedGradient(t: tf.Tensor): boolean {
  if (t instanceof tf.Variable) return true;
  const tape = (tf.engine().state as unknown as { activeTape?: { outputs: tf.Tensor[] }[] | null }).activeTape;
  if (!Array.isArray(tape)) return true;
  return tape.some((node) => node.outputs.some((o) => o.id === t.id));
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
 * [dy * step(y), bias gradient or null] for a layer whose output (after its activation) is y.
 * When dy is the still-deferred gradient of a max pooling of y, both come straight from the pooled
 * gradient. A linear layer without a bias passes dy through.
 */
function activationAndBiasGrad(dy: tf.Tensor, y: tf.Tensor, activation: Act, biasGrad: boolean): [tf.Tensor, tf.Tensor | null] {
  if (activation === 'linear' && !biasGrad) return [dy, null];
  const recipe = context?.deferred.get(dy.dataId) as MaxPoolGradRecipe | undefined;
  let outs: tf.Tensor[];
  if (recipe?.kind === MAX_POOL_GRAD_RECIPE && recipe.input.dataId === y.dataId) {
    const attrs: PoolReluGradBiasAttrs = { ...recipe.attrs, activation, biasGrad };
    outs = run(POOL_RELU_GRAD_BIAS, { dyPool: recipe.dy as tf.Tensor, y }, attrs) as tf.Tensor[];
  } else {
    const attrs: ReluGradBiasAttrs = { activation, biasGrad };
    outs = run(RELU_GRAD_BIAS, { dy, y }, attrs) as tf.Tensor[];
  }
  return [outs[0], biasGrad ? outs[1] : null];
}

/**
 * The gradient of a first layer "3x3 conv of one channel + ReLU, then 2x2 max pooling" whose
 * images need no gradient: the filter and bias gradients straight from the pooled gradient
 * (kernels/pool.ts, convPoolFilterGrad), never the layer's full-size gradient. Null when the layer
 * is not one. The input's gradient, should it be asked for after all, takes the general path.
 */
function firstLayerGradient(dy: tf.Tensor, x: tf.Tensor, filter: tf.Tensor, y: tf.Tensor, a: ConvArgs & BiasShapeAttr & InputGradAttr, activation: Act): Record<string, () => tf.Tensor> | null {
  const recipe = context?.deferred.get(dy.dataId) as MaxPoolGradRecipe | undefined;
  if (a.inputNeedsGrad !== false || recipe?.kind !== MAX_POOL_GRAD_RECIPE || recipe.input.dataId !== y.dataId) return null;
  const common = { strides: a.strides, pad: a.pad as ConvPoolFilterGradAttrs['pad'], dimRoundingMode: a.dimRoundingMode, filterShape: filter.shape as [number, number, number, number], pool: recipe.attrs };
  if (!convPoolFilterGradFits(x.shape, y.shape, common)) return null;
  const { biasShape } = a;
  // The bias gradient comes with the filter's; it is handed over as values (its own closure runs
  // in another tidy scope).
  let biasValues: Float32Array | null = null;
  const fused = (): tf.Tensor => {
    const attrs: ConvPoolFilterGradAttrs = { ...common, activation, biasGrad: biasShape !== undefined };
    const [dw, bias] = run(CONV_POOL_FILTER_GRAD, { x, y, dyPool: recipe.dy as tf.Tensor }, attrs) as tf.Tensor[];
    if (bias) {
      biasValues = bias.dataSync() as Float32Array;
      bias.dispose();
    }
    return dw;
  };
  return {
    x: () => run('Conv2DBackpropInput', { dy: activationAndBiasGrad(dy, y, activation, false)[0], filter }, { strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dimRoundingMode: a.dimRoundingMode, inputShape: x.shape }) as tf.Tensor,
    filter: fused,
    ...(biasShape
      ? {
          bias: () => {
            if (!biasValues) fused().dispose(); // the filter is frozen: its gradient was not asked for
            const t = tf.tensor(biasValues!, biasShape);
            biasValues = null;
            return t;
          },
        }
      : {}),
  };
}

// The bias is not among the saved inputs (it may be absent, and TF.js cannot save an absent
// input): its gradient needs only its shape, which the attributes carry.
const convGradient: GradConfig = {
  kernelName: CONV_BIAS_ACT,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved;
    const { strides, pad, dimRoundingMode, activation, biasShape } = attrs as unknown as ConvArgs & BiasShapeAttr;
    const first = firstLayerGradient(dy as tf.Tensor, x, filter, y, attrs as unknown as ConvArgs & BiasShapeAttr & InputGradAttr, (activation ?? 'linear') as Act);
    if (first) return first;
    const [dyAct, biasGrad] = activationAndBiasGrad(dy as tf.Tensor, y, (activation ?? 'linear') as Act, biasShape !== undefined);
    const common = { strides, pad, dataFormat: 'NHWC', dimRoundingMode };
    return {
      x: () => run('Conv2DBackpropInput', { dy: dyAct, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
      filter: () => run('Conv2DBackpropFilter', { x, dy: dyAct }, { ...common, filterShape: filter.shape }) as tf.Tensor,
      ...(biasGrad && biasShape ? { bias: () => tf.reshape(biasGrad, biasShape) } : {}),
    };
  },
};

const matMulGradient: GradConfig = {
  kernelName: MATMUL_BIAS_ACT,
  inputsToSave: ['a', 'b'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [a, b, y] = saved;
    const { activation, biasShape } = attrs as unknown as MatMulArgs & BiasShapeAttr;
    const [dyAct, biasGrad] = activationAndBiasGrad(dy as tf.Tensor, y, (activation ?? 'linear') as Act, biasShape !== undefined);
    return {
      a: () => tf.matMul(dyAct, b, false, true),
      b: () => tf.matMul(a, dyAct, true, false),
      ...(biasGrad && biasShape ? { bias: () => tf.reshape(biasGrad, biasShape) } : {}),
    };
  },
};

/** The kernel's inputs and the bias-shape attribute: a bias only when there is one. */
function withBias<I extends tf.NamedTensorMap>(inputs: I, bias: unknown): [I & { bias?: tf.Tensor }, BiasShapeAttr] {
  return bias instanceof tf.Tensor ? [{ ...inputs, bias }, { biasShape: bias.shape }] : [inputs, {}];
}

export function patchLayerFusion(ctx: NativeContext): void {
  context = ctx;
  tf.registerGradient(convGradient);
  tf.registerGradient(matMulGradient);

  const conv2d = core.fused.conv2d;
  core.fused.conv2d = tf.op({
    fusedConv2d_: (args: ConvArgs): tf.Tensor4D => {
      if (!onNative() || !recordingGradients() || !convFits(args)) return conv2d(args) as tf.Tensor4D;
      const { x, filter, bias, strides, pad, dimRoundingMode, activation } = args;
      const [inputs, biasShape] = withBias({ x: x as tf.Tensor, filter: filter as tf.Tensor }, bias);
      const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode, activation: activation ?? 'linear', ...biasShape, inputNeedsGrad: mayNeedGradient(x as tf.Tensor) };
      return run(CONV_BIAS_ACT, inputs, attrs) as tf.Tensor4D;
    },
  }) as unknown as typeof core.fused.conv2d;

  const matMul = core.fused.matMul;
  core.fused.matMul = tf.op({
    fusedMatMul_: (args: MatMulArgs): tf.Tensor => {
      if (!onNative() || !recordingGradients() || !matMulFits(args)) return matMul(args);
      const { a, b, bias, activation } = args;
      const [inputs, biasShape] = withBias({ a: a as tf.Tensor, b: b as tf.Tensor }, bias);
      const attrs = { transposeA: false, transposeB: false, activation: activation ?? 'linear', ...biasShape };
      return run(MATMUL_BIAS_ACT, inputs, attrs) as tf.Tensor;
    },
  });
}
