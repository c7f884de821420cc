/**
 * The native training path (src/backend/native/patches): fused "conv/dense (+ bias) + ReLU" layers,
 * batch-norm training and dropout give the gradients TF.js's reference backend gives through its
 * own (unfused) ops.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';
import { CONV_BIAS_ACT, MATMUL_BIAS_ACT } from '../../src/backend/native/kernels/fused.js';
import { checkAgainstCpu, countNativeCalls, nativeSkip, randomInput, requireNative, runOn, startNative } from '../helpers/native.js';

const reason = await startNative();
const skip = nativeSkip(reason);
const rng = new Rng('backend-native-fusion');
// What tfjs-layers calls through (the patched functions); the ESM namespace is a snapshot.
const core = createRequire(import.meta.url)('@tensorflow/tfjs-core') as typeof tf;
type T4 = tf.Tensor4D;
type T1 = tf.Tensor1D;

describe('fused layers on the native training path', { skip }, () => {
  before(requireNative);

  for (const activation of ['relu', 'linear'] as const) {
    it(`conv2d + bias + ${activation}: gradients of input, filter and bias`, async () => {
      const inputs = [randomInput(rng, [4, 12, 12, 8]), randomInput(rng, [3, 3, 8, 16]), randomInput(rng, [16]), randomInput(rng, [4, 10, 10, 16])];
      const grads = (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor, w: tf.Tensor) =>
        tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(core.fused.conv2d({ x: a as T4, filter: c as T4, bias: d, strides: 1, pad: 'valid', activation }), w)))([x, f, b]);
      await checkAgainstCpu(`conv ${activation}`, inputs, grads, 'reluGradBias');
    });
  }

  it('conv2d + bias + relu with stride 2 and same padding', async () => {
    const inputs = [randomInput(rng, [2, 9, 9, 4]), randomInput(rng, [3, 3, 4, 6]), randomInput(rng, [6]), randomInput(rng, [2, 5, 5, 6])];
    const grads = (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor, w: tf.Tensor) =>
      tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(core.fused.conv2d({ x: a as T4, filter: c as T4, bias: d, strides: 2, pad: 'same', activation: 'relu' }), w)))([x, f, b]);
    await checkAgainstCpu('conv stride 2', inputs, grads, 'reluGradBias');
  });

  for (const [name, shape, pool] of [['26x26 (cnn1)', [4, 28, 28, 1], 2], ['odd 11x11 (cnn3)', [3, 13, 13, 4], 2], ['3x3 windows, same padding', [2, 12, 12, 3], 3]] as const) {
    it(`conv + relu + max pool, ${name}: the backward pass works from the pooled gradient`, async () => {
      const C = 8;
      const outShape = tf.tidy(() => tf.maxPool(tf.zeros([shape[0], shape[1] - 2, shape[2] - 2, C]) as T4, pool, pool, pool === 3 ? 'same' : 'valid').shape);
      const inputs = [randomInput(rng, [...shape]), randomInput(rng, [3, 3, shape[3], C]), randomInput(rng, [C], -0.2, 0.2), randomInput(rng, outShape)];
      const layer = (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor) =>
        tf.maxPool(core.fused.conv2d({ x: x as T4, filter: f as T4, bias: b, strides: 1, pad: 'valid', activation: 'relu' }), pool, pool, pool === 3 ? 'same' : 'valid');
      const grads = (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor, w: tf.Tensor) => tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(layer(a, c, d), w)))([x, f, b]);
      await checkAgainstCpu(`conv-pool ${name}`, inputs, grads, ['conv2dPool', 'poolReluGradBias']);
    });
  }

  it('inference: conv + relu + max pool over several cache-sized chunks, the convolution never stored', async () => {
    const inputs = [randomInput(rng, [50, 28, 28, 1]), randomInput(rng, [3, 3, 1, 32]), randomInput(rng, [32], -0.2, 0.2)];
    const layer = (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.maxPool(tf.fused.conv2d({ x: x as T4, filter: f as T4, bias: b, strides: 1, pad: 'valid', activation: 'relu' }), 2, 2, 'valid');
    const { calls } = await countNativeCalls(() => runOn('native', inputs, layer));
    assert.equal(calls.conv2d ?? 0, 0, 'the convolution output is never filled');
    await checkAgainstCpu('conv-pool inference', inputs, layer, 'conv2dPool');
  });

  it('a deferred convolution output read directly is computed then', async () => {
    const inputs = [randomInput(rng, [3, 9, 9, 2]), randomInput(rng, [3, 3, 2, 5]), randomInput(rng, [5])];
    await checkAgainstCpu('deferred conv', inputs, (x, f, b) => {
      const y = tf.fused.conv2d({ x: x as T4, filter: f as T4, bias: b, strides: 1, pad: 'valid', activation: 'relu' });
      return [tf.maxPool(y, 2, 2, 'valid'), y];
    }, ['conv2dPool', 'conv2d']);
  });

  it('inference: a batch norm after conv + relu is folded into the convolution, with or without pooling after it', async () => {
    const C = 16;
    // Statistics as a trained layer has them, with some negative scales (pooling then sees the flip).
    const inputs = [randomInput(rng, [6, 14, 14, 8]), randomInput(rng, [3, 3, 8, C]), randomInput(rng, [C], -0.2, 0.2),
      randomInput(rng, [C], -0.5, 0.5), randomInput(rng, [C], 0.2, 2), randomInput(rng, [C], -1, 1), randomInput(rng, [C], -1.5, 1.5)];
    const convBn = (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, offset: tf.Tensor, scale: tf.Tensor) =>
      core.batchNorm(core.fused.conv2d({ x: x as T4, filter: f as T4, bias: b, strides: 1, pad: 'valid', activation: 'relu' }), mean as T1, variance as T1, offset as T1, scale as T1, 0.001);
    const pooled = (...t: tf.Tensor[]) => tf.maxPool(convBn(...(t as Parameters<typeof convBn>)) as T4, 2, 2, 'valid');
    for (const [label, fn, fused] of [['conv-bn', convBn, 'conv2d'], ['conv-bn-pool', pooled, 'conv2dPool']] as const) {
      const { calls } = await countNativeCalls(() => runOn('native', inputs, fn));
      assert.equal(calls.batchNorm ?? 0, 0, `${label}: no separate batch-norm pass`);
      await checkAgainstCpu(label, inputs, fn, fused);
    }
  });

  it('a deferred convolution output used on the wasm backend (same heap) is computed first', async () => {
    await tf.setBackend('native');
    const [x, f] = [randomInput(rng, [2, 6, 6, 3]), randomInput(rng, [3, 3, 3, 4])].map((i) => tf.tensor(i.values, i.shape));
    const y = tf.fused.conv2d({ x: x as T4, filter: f as T4, strides: 1, pad: 'valid', activation: 'relu' });
    await tf.setBackend('wasm');
    const viaWasm = Array.from(tf.mul(y, 1).dataSync());
    await tf.setBackend('native');
    const direct = Array.from(tf.relu(tf.conv2d(x as T4, f as T4, 1, 'valid')).dataSync());
    assert.deepEqual(viaWasm, direct);
    tf.dispose([x, f, y]);
  });

  for (const [name, pad, activation] of [['valid, relu (cnn1, cnn3)', 'valid', 'relu'], ['same padding, linear', 'same', 'linear']] as const) {
    it(`a first layer (3x3 conv of one channel, ${name}, 2x2 max pool): filter and bias gradients straight from the pooled gradient`, async () => {
      const C = 32;
      const x = randomInput(rng, [5, 28, 28, 1], 0, 1);
      const out = pad === 'valid' ? 13 : 14;
      const inputs = [x, randomInput(rng, [3, 3, 1, C]), randomInput(rng, [C], -0.2, 0.2), randomInput(rng, [5, out, out, C])];
      // The images are no argument of the gradient: as when a model trains on them.
      const grads = (xs: tf.Tensor, f: tf.Tensor, b: tf.Tensor, w: tf.Tensor) =>
        tf.grads((c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(core.fused.conv2d({ x: xs as T4, filter: c as T4, bias: d, strides: 1, pad, activation }), 2, 2, 'valid'), w)))([f, b]);
      const { calls } = await countNativeCalls(() => runOn('native', inputs, grads));
      assert.equal(calls.convPoolFilterGrad, 1, JSON.stringify(calls));
      for (const skipped of ['poolReluGradBias', 'conv2dBackpropFilter', 'conv2dBackpropInput', 'maxPoolGrad'] as const) assert.equal(calls[skipped] ?? 0, 0, `${skipped} ran`);
      await checkAgainstCpu(`first layer ${name}`, inputs, grads, 'convPoolFilterGrad');
    });
  }

  it('a first layer whose input gradient is asked for after all gets it by the general path, and the same filter gradient', async () => {
    const C = 16;
    const inputs = [randomInput(rng, [3, 12, 12, 1]), randomInput(rng, [3, 3, 1, C]), randomInput(rng, [C], -0.2, 0.2), randomInput(rng, [3, 5, 5, C])];
    const grads = (xs: tf.Tensor, f: tf.Tensor, b: tf.Tensor, w: tf.Tensor) =>
      tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(core.fused.conv2d({ x: a as T4, filter: c as T4, bias: d, strides: 1, pad: 'valid', activation: 'relu' }), 2, 2, 'valid'), w)))([xs, f, b]);
    await checkAgainstCpu('first layer with input gradient', inputs, grads, ['convPoolFilterGrad', 'poolReluGradBias', 'conv2dBackpropInput']);
  });

  it('the input gradient of a first layer is not computed', async () => {
    const { calls } = await countNativeCalls(() =>
      runOn('native', [randomInput(rng, [4, 12, 12, 1]), randomInput(rng, [3, 3, 1, 8]), randomInput(rng, [8])], (x, f, b) =>
        tf.grads((c: tf.Tensor, d: tf.Tensor) => tf.sum(core.fused.conv2d({ x: x as T4, filter: c as T4, bias: d, strides: 1, pad: 'valid', activation: 'relu' })))([f, b]),
      ),
    );
    assert.equal(calls.conv2dBackpropInput ?? 0, 0);
    assert.equal(calls.conv2dBackpropFilter, 1);
  });

  it('dense + bias + relu: gradients of input, kernel and bias', async () => {
    const inputs = [randomInput(rng, [32, 50]), randomInput(rng, [50, 20]), randomInput(rng, [20]), randomInput(rng, [32, 20])];
    const grads = (x: tf.Tensor, k: tf.Tensor, b: tf.Tensor, w: tf.Tensor) =>
      tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(core.fused.matMul({ a, b: c, bias: d, activation: 'relu' }), w)))([x, k, b]);
    await checkAgainstCpu('dense relu', inputs, grads, 'reluGradBias');
  });

  /** The kernels TF.js runs for `fn` on the native backend. */
  async function kernelsRun(inputs: ReturnType<typeof randomInput>[], fn: (...t: tf.Tensor[]) => tf.Tensor[]): Promise<string[]> {
    await tf.setBackend('native');
    const ts = inputs.map((i) => tf.tensor(i.values, i.shape));
    const info = await tf.profile(() => tf.tidy(() => fn(...ts)));
    tf.dispose(ts);
    return info.kernelNames;
  }

  // Without a bias (the usual convolution before a batch norm). The gradient with respect to w, the
  // weights of the sum, is the layer's output: so the forward output is compared too.
  for (const activation of ['relu', 'linear'] as const) {
    it(`conv2d without bias + ${activation}: output and gradients of input and filter, on the fused path`, async () => {
      const inputs = [randomInput(rng, [4, 12, 12, 8]), randomInput(rng, [3, 3, 8, 16]), randomInput(rng, [4, 10, 10, 16])];
      const grads = (x: tf.Tensor, f: tf.Tensor, w: tf.Tensor) =>
        tf.grads((a: tf.Tensor, c: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(core.fused.conv2d({ x: a as T4, filter: c as T4, strides: 1, pad: 'valid', activation }), v)))([x, f, w]);
      const native = activation === 'relu' ? (['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter', 'reluGradBias'] as const) : (['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'] as const);
      await checkAgainstCpu(`conv no bias ${activation}`, inputs, grads, [...native]);
      const kernels = await kernelsRun(inputs, grads);
      assert.ok(kernels.includes(CONV_BIAS_ACT), `the fused training kernel ran (kernels: ${kernels.join(', ')})`);
      for (const unfused of ['Conv2D', 'FusedConv2D', 'Relu', 'Step', 'Add']) assert.ok(!kernels.includes(unfused), `no ${unfused} (kernels: ${kernels.join(', ')})`);
    });
  }

  it('conv2d without bias + relu + max pool: the backward pass works from the pooled gradient, with no bias gradient', async () => {
    const inputs = [randomInput(rng, [4, 28, 28, 1]), randomInput(rng, [3, 3, 1, 8]), randomInput(rng, [4, 13, 13, 8])];
    const grads = (x: tf.Tensor, f: tf.Tensor, w: tf.Tensor) =>
      tf.grads((a: tf.Tensor, c: tf.Tensor, v: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(core.fused.conv2d({ x: a as T4, filter: c as T4, strides: 1, pad: 'valid', activation: 'relu' }), 2, 2, 'valid'), v)))([x, f, w]);
    await checkAgainstCpu('conv-pool no bias', inputs, grads, ['conv2dPool', 'poolReluGradBias', 'conv2dBackpropFilter']);
  });

  for (const activation of ['relu', 'linear'] as const) {
    it(`dense without bias + ${activation}: output and gradients of input and kernel, on the fused path`, async () => {
      const inputs = [randomInput(rng, [32, 50]), randomInput(rng, [50, 20]), randomInput(rng, [32, 20])];
      const grads = (x: tf.Tensor, k: tf.Tensor, w: tf.Tensor) =>
        tf.grads((a: tf.Tensor, c: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(core.fused.matMul({ a, b: c, activation }), v)))([x, k, w]);
      await checkAgainstCpu(`dense no bias ${activation}`, inputs, grads, activation === 'relu' ? ['matmul', 'reluGradBias'] : 'matmul');
      const kernels = await kernelsRun(inputs, grads);
      assert.ok(kernels.includes(MATMUL_BIAS_ACT), `the fused training kernel ran (kernels: ${kernels.join(', ')})`);
      for (const unfused of ['_FusedMatMul', 'Relu', 'Step']) assert.ok(!kernels.includes(unfused), `no ${unfused} (kernels: ${kernels.join(', ')})`);
    });
  }
});

describe('batch-norm training on the native path', { skip }, () => {
  before(requireNative);

  // What tfjs-layers' BatchNormalization computes while training (normalizeBatchInTraining).
  const bnTraining = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const { mean, variance } = core.moments(x, axes);
    const y = x.rank === 4
      ? core.batchNorm4d(x as T4, mean as T1, variance as T1, beta as T1, gamma as T1, 1e-3)
      : core.batchNorm2d(x as tf.Tensor2D, mean as T1, variance as T1, beta as T1, gamma as T1, 1e-3);
    return { y, mean, variance };
  };

  for (const shape of [[8, 7, 7, 16], [64, 40]]) {
    it(`moments and normalisation of ${JSON.stringify(shape)}: values and gradients`, async () => {
      const C = shape[shape.length - 1];
      const inputs = [randomInput(rng, shape, -1, 3), randomInput(rng, [C], 0.5, 1.5), randomInput(rng, [C]), randomInput(rng, shape)];
      await checkAgainstCpu('bn forward', inputs, (x, g, b) => Object.values(bnTraining(x, g, b)), 'moments');
      const grads = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, w: tf.Tensor) => tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(bnTraining(a, c, d).y, w)))([x, g, b]);
      const { calls } = await countNativeCalls(() => runOn('native', inputs, grads));
      assert.equal(calls.momentsGrad ?? 0, 0, 'the statistics are constants of the normalisation: no moments gradient');
      await checkAgainstCpu('bn gradients', inputs, grads, ['batchNormGradStats', 'batchNormTrainingGradX'], 5e-4);
    });
  }

  it('normalisation by other statistics, and the moments alone, have their own gradients', async () => {
    const C = 6;
    const inputs = [randomInput(rng, [5, 4, 4, C]), randomInput(rng, [C]), randomInput(rng, [C], 0.5, 2), randomInput(rng, [C]), randomInput(rng, [C]), randomInput(rng, [5, 4, 4, C])];
    const bn = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, sc: tf.Tensor, w: tf.Tensor) =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) => tf.sum(tf.mul(core.batchNorm4d(a as T4, b as T1, c as T1, d as T1, e as T1, 1e-3), w)))([x, m, v, o, sc]);
    await checkAgainstCpu('bn given statistics', inputs, bn, 'batchNormGradStats', 5e-4);
    const mom = (x: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor) =>
      tf.grad((a: tf.Tensor) => {
        const { mean, variance } = core.moments(a, [0, 1, 2]);
        return tf.add(tf.sum(tf.mul(mean, w1)), tf.sum(tf.mul(variance, w2)));
      })(x);
    await checkAgainstCpu('moments gradient', [inputs[0], inputs[1], inputs[3]], mom, 'momentsGrad', 5e-4);
  });
});

describe('dropout on the native path', { skip }, () => {
  before(requireNative);

  for (const shape of [[16, 13, 13, 8], [3, 7, 5, 3]]) it(`forward and gradient equal the reference (same masks), ${JSON.stringify(shape)}`, async () => {
    const inputs = [randomInput(rng, shape), randomInput(rng, shape)];
    const f = (x: tf.Tensor, w: tf.Tensor) =>
      withSeededMathRandom(new Rng('mask'), () => [core.dropout(x, 0.3), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(core.dropout(a, 0.3), w)))(x)]);
    await checkAgainstCpu('dropout', inputs, f, 'randomFill', 0);
  });

  it('a noise shape broadcasts the mask', async () => {
    const f = (x: tf.Tensor) => withSeededMathRandom(new Rng('noise'), () => core.dropout(x, 0.5, [4, 1, 1, 3]));
    await checkAgainstCpu('noise shape', [randomInput(rng, [4, 5, 5, 3])], f, 'randomFill', 0);
  });
});
