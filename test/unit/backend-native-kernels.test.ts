/**
 * Every native kernel against TF.js's reference 'cpu' backend on seeded random inputs: forward and
 * gradients, on the shapes the models use and on others (strides, padding, dilation, broadcasting).
 */
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/util/rng.js';
import { checkAgainstCpu, nativeSkip, randomInput, requireNative, startNative } from '../helpers/native.js';

const reason = await startNative();
const skip = nativeSkip(reason);
const rng = new Rng('backend-native-kernels');
type T4 = tf.Tensor4D;

describe('native convolution kernels match the cpu backend', { skip }, () => {
  before(requireNative);
  const cases: { name: string; x: number[]; f: number[]; strides: number | [number, number]; pad: 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]]; dilations?: number }[] = [
    { name: 'cnn first layer', x: [4, 28, 28, 1], f: [3, 3, 1, 32], strides: 1, pad: 'valid' },
    { name: 'cnn second layer', x: [3, 13, 13, 32], f: [3, 3, 32, 64], strides: 1, pad: 'valid' },
    { name: 'stride 2, same', x: [2, 9, 10, 5], f: [3, 3, 5, 7], strides: 2, pad: 'same' },
    { name: 'stride (2,1), valid, odd sizes', x: [2, 11, 8, 3], f: [2, 3, 3, 4], strides: [2, 1], pad: 'valid' },
    { name: 'explicit asymmetric padding', x: [2, 7, 7, 3], f: [3, 3, 3, 6], strides: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
    { name: '1x1 kernel', x: [2, 5, 5, 8], f: [1, 1, 8, 3], strides: 1, pad: 'valid' },
  ];
  for (const c of cases) {
    it(`Conv2D and both gradients: ${c.name}`, async () => {
      const inputs = [randomInput(rng, c.x), randomInput(rng, c.f)];
      const conv = (x: tf.Tensor, f: tf.Tensor) => tf.conv2d(x as T4, f as T4, c.strides, c.pad);
      await checkAgainstCpu(`${c.name} forward`, inputs, conv, 'conv2d');
      const outShape = tf.tidy(() => conv(tf.zeros(c.x), tf.zeros(c.f)).shape);
      const dy = randomInput(rng, outShape);
      const grads = (x: tf.Tensor, f: tf.Tensor, d: tf.Tensor) => tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(a, b))([x, f], d);
      await checkAgainstCpu(`${c.name} backprop input`, [...inputs, dy], (x, f, d) => grads(x, f, d)[0], 'conv2dBackpropInput');
      await checkAgainstCpu(`${c.name} backprop filter`, [...inputs, dy], (x, f, d) => grads(x, f, d)[1], 'conv2dBackpropFilter');
    });
  }

  it('Conv2D with dilation 2', async () => {
    const inputs = [randomInput(rng, [2, 12, 12, 4]), randomInput(rng, [3, 3, 4, 5])];
    await checkAgainstCpu('dilated', inputs, (x, f) => tf.conv2d(x as T4, f as T4, 1, 'same', 'NHWC', 2), 'conv2d');
  });

  for (const activation of ['relu', 'linear', 'relu6', 'elu', 'leakyrelu', 'sigmoid'] as const) {
    it(`FusedConv2D with bias and ${activation}`, async () => {
      const inputs = [randomInput(rng, [3, 10, 10, 4]), randomInput(rng, [3, 3, 4, 6]), randomInput(rng, [6])];
      await checkAgainstCpu(`fused ${activation}`, inputs, (x, f, b) => tf.fused.conv2d({ x: x as T4, filter: f as T4, strides: 1, pad: 'same', bias: b, activation, leakyreluAlpha: 0.3 }), 'conv2d');
    });
  }

  it('FusedConv2D without bias', async () => {
    const inputs = [randomInput(rng, [2, 8, 8, 3]), randomInput(rng, [3, 3, 3, 4])];
    await checkAgainstCpu('fused no bias', inputs, (x, f) => tf.fused.conv2d({ x: x as T4, filter: f as T4, strides: 1, pad: 'valid', activation: 'relu' }), 'conv2d');
  });
});

describe('native matrix multiplication matches the cpu backend', { skip }, () => {
  before(requireNative);
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`MatMul, transposeA=${ta} transposeB=${tb}, and its gradients`, async () => {
      const a = randomInput(rng, ta ? [33, 17] : [17, 33]);
      const b = randomInput(rng, tb ? [9, 33] : [33, 9]);
      await checkAgainstCpu('matmul', [a, b], (x, y) => tf.matMul(x, y, ta, tb), 'matmul');
      const dy = randomInput(rng, [17, 9]);
      await checkAgainstCpu('matmul grads', [a, b, dy], (x, y, d) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q, ta, tb))([x, y], d), 'matmul');
    });
  }

  it('batched and broadcast BatchMatMul', async () => {
    await checkAgainstCpu('batched', [randomInput(rng, [3, 5, 7]), randomInput(rng, [3, 7, 4])], (a, b) => tf.matMul(a, b), 'matmul');
    await checkAgainstCpu('broadcast b', [randomInput(rng, [2, 3, 5, 7]), randomInput(rng, [1, 7, 4])], (a, b) => tf.matMul(a, b), 'matmul');
    await checkAgainstCpu('broadcast a, transposed', [randomInput(rng, [1, 7, 5]), randomInput(rng, [4, 6, 7])], (a, b) => tf.matMul(a, b, true, true), 'matmul');
  });

  it('the dense layer sizes of the models (fused bias and relu)', async () => {
    const inputs = [randomInput(rng, [64, 5408]), randomInput(rng, [5408, 128], -0.05, 0.05), randomInput(rng, [128])];
    await checkAgainstCpu('dense', inputs, (x, w, b) => tf.fused.matMul({ a: x, b: w, bias: b, activation: 'relu' }), 'matmul');
  });

  for (const activation of ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'] as const) {
    it(`_FusedMatMul with ${activation}`, async () => {
      const inputs = [randomInput(rng, [6, 11]), randomInput(rng, [5, 11]), randomInput(rng, [5])];
      await checkAgainstCpu(`fused matmul ${activation}`, inputs, (a, b, bias) => tf.fused.matMul({ a, b, transposeB: true, bias, activation, leakyreluAlpha: 0.1 }), 'matmul');
    });
  }
});

describe('native max pooling matches the cpu backend', { skip }, () => {
  before(requireNative);
  const cases: { name: string; x: number[]; size: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' }[] = [
    { name: '2x2 stride 2 (the models)', x: [4, 26, 26, 32], size: 2, strides: 2, pad: 'valid' },
    { name: '2x2 stride 2, odd input', x: [3, 11, 11, 64], size: 2, strides: 2, pad: 'valid' },
    { name: '3x3 stride 2 same (overlapping)', x: [2, 9, 8, 5], size: 3, strides: 2, pad: 'same' },
    { name: '2x2 stride 1 (overlapping)', x: [2, 6, 7, 3], size: 2, strides: 1, pad: 'valid' },
    { name: '3x2 stride 3 same, 20 channels', x: [2, 10, 9, 20], size: [3, 2], strides: 3, pad: 'same' },
  ];
  for (const c of cases) {
    it(`MaxPool and MaxPoolGrad: ${c.name}`, async () => {
      const x = randomInput(rng, c.x);
      const pool = (t: tf.Tensor) => tf.maxPool(t as T4, c.size, c.strides, c.pad);
      await checkAgainstCpu(`${c.name} forward`, [x], pool, 'maxPool');
      const dy = randomInput(rng, tf.tidy(() => pool(tf.zeros(c.x)).shape));
      await checkAgainstCpu(`${c.name} gradient`, [x, dy], (t, d) => tf.grad(pool)(t, d), 'maxPoolGrad');
    });
  }

  it('MaxPoolGrad gives ties to the first maximum (ReLU zeros), as the cpu backend does', async () => {
    const x = randomInput(rng, [2, 8, 8, 16]);
    x.values.forEach((v, i) => (x.values[i] = Math.max(0, v - 0.5)));
    const dy = randomInput(rng, [2, 4, 4, 16]);
    await checkAgainstCpu('ties', [x, dy], (t, d) => tf.grad((u: tf.Tensor) => tf.maxPool(u as T4, 2, 2, 'valid'))(t, d), 'maxPoolGrad', 0);
  });
});

describe('native element-wise kernels match the cpu backend', { skip }, () => {
  before(requireNative);
  const unary: [string, (x: tf.Tensor) => tf.Tensor, number, number][] = [
    ['Relu', tf.relu, -2, 2], ['Relu6', tf.relu6, -3, 9], ['Step', (x) => tf.step(x, 0.25), -2, 2], ['Square', tf.square, -3, 3],
    ['Sqrt', tf.sqrt, 0.01, 4], ['Rsqrt', tf.rsqrt, 0.01, 4], ['Neg', tf.neg, -2, 2], ['Exp', tf.exp, -5, 5], ['Log', tf.log, 0.01, 9],
    ['Abs', tf.abs, -2, 2], ['Floor', tf.floor, -3, 3], ['Ceil', tf.ceil, -3, 3], ['Reciprocal', tf.reciprocal, 0.1, 3],
    ['Sigmoid', tf.sigmoid, -6, 6], ['Tanh', tf.tanh, -3, 3], ['LeakyRelu', (x) => tf.leakyRelu(x, 0.3), -2, 2],
    ['Elu', tf.elu, -3, 3], ['ClipByValue', (x) => tf.clipByValue(x, -0.5, 0.7), -2, 2],
  ];
  for (const [name, fn, lo, hi] of unary) {
    it(`${name}, large (threaded) and small`, async () => {
      await checkAgainstCpu(name, [randomInput(rng, [70000], lo, hi)], fn, 'unary');
      await checkAgainstCpu(name, [randomInput(rng, [3, 5], lo, hi)], fn, 'unary');
    });
  }

  const shapes: [number[], number[]][] = [
    [[64, 13, 13, 32], [64, 13, 13, 32]], // same shape, threaded
    [[5, 7], []], // scalar b
    [[], [4, 6]], // scalar a
    [[40, 26, 32], [32]], // bias over rows
    [[6, 5, 5, 16], [1, 1, 1, 16]], // batch-norm style
    [[9, 1], [1, 11]], // outer product
    [[3, 1, 4, 1, 5], [2, 1, 1, 5]], // rank 5, broadcasting both ways
    [[8, 4], [8, 1]], // column broadcast
  ];
  for (const name of ['Add', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference', 'Maximum', 'Minimum'] as const) {
    it(`${name} with broadcasting`, async () => {
      const op = { Add: tf.add, Sub: tf.sub, Multiply: tf.mul, RealDiv: tf.div, SquaredDifference: tf.squaredDifference, Maximum: tf.maximum, Minimum: tf.minimum }[name];
      for (const [sa, sb] of shapes) {
        await checkAgainstCpu(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, [randomInput(rng, sa), randomInput(rng, sb, 0.5, 2)], (a, b) => op(a, b), 'binary');
      }
    });
  }

  it('AddN', async () => {
    const ins = [0, 1, 2, 3].map(() => randomInput(rng, [50000]));
    await checkAgainstCpu('addN', ins, (...t) => tf.addN(t), 'addN');
  });

  it('Identity and same-type Cast share the data; other casts still work', async () => {
    const x = randomInput(rng, [3, 4]);
    await checkAgainstCpu('identity', [x], (t) => [tf.clone(t), tf.cast(t, 'float32'), tf.cast(tf.cast(t, 'int32'), 'float32')], null, 0);
  });
});

describe('native reductions match the cpu backend', { skip }, () => {
  before(requireNative);
  const cases: [number[], number | number[], boolean][] = [
    [[64, 26, 26, 32], [0, 1, 2], false], // bias gradient of the first layer
    [[256, 10], 1, true], // per-row sums of the loss
    [[256, 10], 0, false],
    [[7, 9, 11], [1], false], // middle axis
    [[5, 6], [0, 1], false], // everything
    [[4, 1, 6], [0, 2], true], // contiguous once size-1 dimensions are ignored
    [[3, 4, 5], [], false], // nothing
  ];
  for (const name of ['sum', 'mean', 'max', 'min'] as const) {
    it(`${name} over contiguous axes`, async () => {
      for (const [shape, axis, keepDims] of cases) {
        await checkAgainstCpu(`${name} ${JSON.stringify(shape)} axis ${JSON.stringify(axis)}`, [randomInput(rng, shape)], (x) => tf[name](x, axis, keepDims), 'reduce');
      }
    });
  }
  it('non-contiguous axes fall back to the wasm kernel and agree', async () => {
    await checkAgainstCpu('sum [0,2]', [randomInput(rng, [3, 4, 5])], (x) => tf.sum(x, [0, 2]), null);
  });
});

describe('native batch normalisation matches the cpu backend', { skip }, () => {
  before(requireNative);
  it('FusedBatchNorm (4-D and 2-D, with and without scale and offset) and its gradients', async () => {
    const C = 16;
    const stats = () => [randomInput(rng, [C]), randomInput(rng, [C], 0.2, 2), randomInput(rng, [C]), randomInput(rng, [C])];
    await checkAgainstCpu('bn 4d', [randomInput(rng, [8, 6, 6, C]), ...stats()], (x, m, v, o, s) => tf.batchNorm4d(x as T4, m as tf.Tensor1D, v as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3), 'batchNorm');
    await checkAgainstCpu('bn 2d bare', [randomInput(rng, [32, C]), ...stats().slice(0, 2)], (x, m, v) => tf.batchNorm2d(x as tf.Tensor2D, m as tf.Tensor1D, v as tf.Tensor1D), 'batchNorm');
    const dy = randomInput(rng, [8, 6, 6, C]);
    await checkAgainstCpu('bn gradients', [randomInput(rng, [8, 6, 6, C]), ...stats(), dy], (x, m, v, o, s, d) => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, e: tf.Tensor, f: tf.Tensor) => tf.batchNorm4d(a as T4, b as tf.Tensor1D, c as tf.Tensor1D, e as tf.Tensor1D, f as tf.Tensor1D, 1e-3))([x, m, v, o, s], d), 'batchNorm', 2e-4);
  });
});
