/**
 * The kernels fashion-cnn adds to TF.js's wasm backend, against TF.js's reference 'cpu' backend on
 * seeded random inputs: the shapes cnn1/cnn3/cnn4 use and others (strides, padding, kernel sizes,
 * odd channel counts, batch 1, block boundaries), with no tensor or heap-buffer left behind.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers TF.js's gradient functions (tfjs-core alone does not)
import { initWasmBackend } from '../../src/backend/wasm/index.js';
import { convTuning } from '../../src/backend/wasm/conv_common.js';
import { Rng } from '../../src/util/rng.js';

type T4 = tf.Tensor4D;
type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
const rng = new Rng('backend-wasm-kernels');
const RTOL = 1e-4;

function randomValues(shape: number[], scale = 1): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = scale * rng.normal();
  return v;
}

interface Input {
  shape: number[];
  values: Float32Array;
}

const input = (shape: number[], scale = 1): Input => ({ shape, values: randomValues(shape, scale) });

/** Runs `fn` on fresh tensors made on `backendName`; returns its outputs' values and shapes. */
async function runOn(backendName: string, inputs: Input[], fn: (...t: tf.Tensor[]) => tf.Tensor | tf.Tensor[]) {
  await tf.setBackend(backendName);
  const tensors = inputs.map((i) => tf.tensor(i.values, i.shape));
  const result = tf.tidy(() => fn(...tensors));
  const outs = Array.isArray(result) ? result : [result];
  const read = outs.map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
  tf.dispose([...tensors, ...outs]);
  return read;
}

function assertClose(label: string, actual: { shape: number[]; values: Float32Array }, expected: { shape: number[]; values: Float32Array }): void {
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  let maxErr = 0;
  let scale = 0;
  for (let i = 0; i < expected.values.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(actual.values[i] - expected.values[i]));
    scale = Math.max(scale, Math.abs(expected.values[i]));
  }
  assert.ok(Number.isFinite(maxErr) && maxErr <= RTOL * Math.max(scale, 1e-6), `${label}: max error ${maxErr} vs scale ${scale}`);
}

/**
 * Checks `fn` on wasm against cpu, and that on wasm it leaves no tensor and no backend buffer
 * (TensorInfo, including the kernels' scratch and aliases) behind.
 */
async function checkAgainstCpu(label: string, inputs: Input[], fn: (...t: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<void> {
  const expected = await runOn('cpu', inputs, fn);
  await tf.setBackend('wasm');
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.backend().numDataIds();
  const actual = await runOn('wasm', inputs, fn);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${label}: tensors leaked`);
  assert.equal(tf.backend().numDataIds(), buffersBefore, `${label}: wasm buffers leaked`);
  expected.forEach((e, i) => assertClose(`${label} [${i}]`, actual[i], e));
}

before(async () => {
  await initWasmBackend();
});

interface ConvCase {
  name: string;
  x: number[];
  f: number[];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

// Small batches: the cpu reference is slow on these (the batch size does not change the code path).
const modelCases: ConvCase[] = [
  { name: 'cnn1/3/4 first layer 28x28x1->32', x: [3, 28, 28, 1], f: [3, 3, 1, 32], strides: 1, pad: 'valid' },
  { name: 'cnn3 13x13x32->64', x: [2, 13, 13, 32], f: [3, 3, 32, 64], strides: 1, pad: 'valid' },
  { name: 'cnn3 5x5x64->128', x: [2, 5, 5, 64], f: [3, 3, 64, 128], strides: 1, pad: 'valid' },
  { name: 'cnn4 26x26x32->32', x: [1, 26, 26, 32], f: [3, 3, 32, 32], strides: 1, pad: 'valid' },
  { name: 'cnn4 12x12x32->64', x: [2, 12, 12, 32], f: [3, 3, 32, 64], strides: 1, pad: 'valid' },
  { name: 'cnn4 10x10x64->128', x: [1, 10, 10, 64], f: [3, 3, 64, 128], strides: 1, pad: 'valid' },
];

const otherCases: ConvCase[] = [
  { name: 'stride 2, valid, odd channels', x: [2, 11, 11, 3], f: [3, 3, 3, 5], strides: 2, pad: 'valid' },
  { name: 'stride 2, same', x: [2, 10, 9, 8], f: [3, 3, 8, 7], strides: 2, pad: 'same' },
  { name: 'stride 1, same, 5x5 kernel', x: [2, 9, 9, 9], f: [5, 5, 9, 6], strides: 1, pad: 'same' },
  { name: 'same with an even kernel (asymmetric padding)', x: [2, 8, 8, 10], f: [4, 2, 10, 3], strides: 1, pad: 'same' },
  { name: '5x5 kernel, valid, non-square input, batch 1', x: [1, 14, 9, 2], f: [5, 5, 2, 4], strides: 1, pad: 'valid' },
  { name: 'non-square stride (2,1), odd sizes', x: [2, 11, 8, 12], f: [2, 3, 12, 4], strides: [2, 1], pad: 'valid' },
  { name: 'numeric padding 1', x: [2, 7, 6, 16], f: [3, 3, 16, 5], strides: 1, pad: 1 },
  { name: 'numeric padding with stride 2 and dimRoundingMode ceil', x: [2, 8, 8, 3], f: [3, 3, 3, 4], strides: 2, pad: 1, dimRoundingMode: 'ceil' },
  { name: 'explicit asymmetric padding', x: [2, 7, 7, 11], f: [3, 3, 11, 6], strides: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { name: 'explicit padding, stride 2', x: [2, 9, 9, 8], f: [3, 3, 8, 4], strides: 2, pad: [[0, 0], [0, 1], [1, 1], [0, 0]] },
  { name: '1x1 kernel, batch 1', x: [1, 5, 5, 8], f: [1, 1, 8, 3], strides: 1, pad: 'valid' },
  { name: 'kernel as large as the input', x: [2, 4, 5, 9], f: [4, 5, 9, 2], strides: 1, pad: 'valid' },
];

/** Both gradient kernels through tf.grads of conv2d; with `direct`, also each kernel on its own. */
function convGradChecks(c: ConvCase, direct = true) {
  return async () => {
    const x = input(c.x);
    const f = input(c.f, 0.3);
    const conv = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as T4, b as T4, c.strides, c.pad as never, 'NHWC', 1, c.dimRoundingMode);
    const outShape = tf.tidy(() => conv(tf.zeros(c.x), tf.zeros(c.f)).shape);
    const dy = input(outShape);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode };
    if (direct) await checkAgainstCpu(`${c.name}: Conv2DBackpropFilter`, [x, dy], (a, d) =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: a, dy: d }, { ...attrs, filterShape: c.f } as never) as tf.Tensor);
    if (direct) await checkAgainstCpu(`${c.name}: Conv2DBackpropInput`, [dy, f], (d, b) =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy: d, filter: b }, { ...attrs, inputShape: c.x } as never) as tf.Tensor);
    if (c.dimRoundingMode) {
      // TF.js's conv2d gradient drops dimRoundingMode, so dy no longer fits: refuse, not garbage.
      await tf.setBackend('wasm');
      assert.throws(() => tf.tidy(() => tf.grads((p: tf.Tensor, q: tf.Tensor) => conv(p, q))([tf.zeros(c.x), tf.zeros(c.f)], tf.zeros(outShape))), /dy has shape/);
      return;
    }
    await checkAgainstCpu(`${c.name}: tf.grads of conv2d`, [x, f, dy], (a, b, d) => tf.grads((p: tf.Tensor, q: tf.Tensor) => conv(p, q))([a, b], d));
  };
}

describe('convolution gradients on wasm match the cpu backend', () => {
  for (const c of modelCases) it(`${c.name} (model shape)`, convGradChecks(c, false));
  for (const c of otherCases) it(c.name, convGradChecks(c));

  it('blocks of output positions that end mid-row and mid-image', async () => {
    const saved = { ...convTuning };
    try {
      convTuning.filterGradBlockBytes = 4 * 123; // a few positions a block, not aligned to rows
      convTuning.inputGradBlockBytes = 4 * 77;
      await convGradChecks({ name: 'tiny blocks', x: [3, 9, 7, 4], f: [3, 3, 4, 5], strides: 1, pad: 'same' })();
      await convGradChecks({ name: 'tiny blocks, stride 2', x: [2, 9, 7, 3], f: [3, 3, 3, 2], strides: 2, pad: 'valid' })();
    } finally {
      Object.assign(convTuning, saved);
    }
  });

  it('variableGrads through conv2d + bias + relu, as a conv layer trains', async () => {
    const x = input([3, 12, 12, 6]);
    const f = input([3, 3, 6, 8], 0.3);
    const b = input([8], 0.1);
    await checkAgainstCpu('variableGrads', [x, f, b], (xt, ft, bt) => {
      const fv = tf.variable(ft);
      const bv = tf.variable(bt);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.relu(tf.add(tf.conv2d(xt as T4, fv as T4, 1, 'valid'), bv)))), [fv, bv]);
      const out = [value, grads[fv.name], grads[bv.name]];
      fv.dispose();
      bv.dispose();
      return out;
    });
  });

  it('repeated gradient steps do not grow the wasm heap (scratch buffers are freed)', async () => {
    await tf.setBackend('wasm');
    const heapBytes = () => ((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length);
    const x = tf.tensor(randomValues([8, 13, 13, 32]), [8, 13, 13, 32]) as T4;
    const f = tf.tensor(randomValues([3, 3, 32, 16]), [3, 3, 32, 16]) as T4;
    const x2 = tf.tensor(randomValues([4, 9, 9, 3]), [4, 9, 9, 3]) as T4;
    const f2 = tf.tensor(randomValues([3, 3, 3, 4]), [3, 3, 3, 4]) as T4;
    const step = () => tf.tidy(() => {
      const [a, b] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.maxPool(tf.conv2d(p as T4, q as T4, 1, 'valid'), 2, 2, 'valid'))([x, f]);
      const [c, d] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.conv2d(p as T4, q as T4, 2, 'same'))([x2, f2]);
      tf.sum(a, [0, 1, 2]).dataSync();
      return [b, c, d].map((t) => t.dataSync()[0]);
    });
    for (let i = 0; i < 3; i++) step();
    const settled = heapBytes();
    for (let i = 0; i < 20; i++) step();
    assert.equal(heapBytes(), settled);
    tf.dispose([x, f, x2, f2]);
  });

  it('stays correct when the wasm heap grows while a kernel runs (views are re-taken)', async () => {
    await tf.setBackend('wasm');
    const heapBytes = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    // Enough images that one block's scratch alone is larger than the whole heap is now.
    const perImage = 28 * 28 * 72 * 4; // output positions x taps x bytes, for 30x30x8 images and 3x3 filters
    const batch = Math.ceil((heapBytes + (8 << 20)) / perImage);
    const x = input([batch, 30, 30, 8], 0.5);
    const dy = input([batch, 28, 28, 4], 0.5);
    const dW = (t: tf.Tensor, d: tf.Tensor) =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: t, dy: d }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 8, 4] } as never) as tf.Tensor;
    const saved = { ...convTuning };
    try {
      convTuning.filterGradBlockBytes = 1 << 20;
      const [small] = await runOn('wasm', [x, dy], dW);
      convTuning.filterGradBlockBytes = 2 * batch * perImage;
      const [whole] = await runOn('wasm', [x, dy], dW);
      assert.ok((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length > heapBytes, 'the heap grew');
      assertClose('one block vs many', whole, small);
    } finally {
      Object.assign(convTuning, saved);
    }
  });

  it('rejects dilations other than 1 and NCHW with a clear error', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 6, 6, 2]);
    const dy = tf.zeros([1, 4, 4, 3]);
    assert.throws(
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 2, filterShape: [3, 3, 2, 3] } as never),
      /Conv2DBackpropFilter: dilations other than 1 are not supported/,
    );
    assert.throws(
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] } as never),
      /only dataFormat 'NHWC'/,
    );
    tf.dispose([x, dy]);
  });
});

describe('matrix products on wasm match the cpu backend', () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`transposeA=${ta}, transposeB=${tb}: rank 2, rank 3 with batch 1, batched`, async () => {
      const a = input(ta ? [37, 19] : [19, 37]);
      const b = input(tb ? [11, 37] : [37, 11]);
      await checkAgainstCpu('rank 2', [a, b], (p, q) => tf.matMul(p, q, ta, tb));
      await checkAgainstCpu('rank 3, batch 1', [a, b], (p, q) => tf.matMul(tf.expandDims(p, 0), tf.expandDims(q, 0), ta, tb));
      const a3 = input(ta ? [3, 8, 5] : [3, 5, 8]);
      const b3 = input(tb ? [3, 4, 8] : [3, 8, 4]);
      await checkAgainstCpu('batched (stock kernel)', [a3, b3], (p, q) => tf.matMul(p, q, ta, tb));
    });
  }

  it('the dense-layer gradients of cnn1 (5408 -> 128, batch 16)', async () => {
    const x = input([16, 5408]);
    const w = input([5408, 128], 0.05);
    const dy = input([16, 128]);
    await checkAgainstCpu('dense grads', [x, w, dy], (p, q, d) => tf.grads((s: tf.Tensor, t: tf.Tensor) => tf.matMul(s, t))([p, q], d));
  });
});

describe('max-pooling gradient on wasm matches the cpu backend', () => {
  const cases: { name: string; x: number[]; size: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' }[] = [
    { name: 'cnn1/cnn3 26x26x32, 2x2', x: [4, 26, 26, 32], size: 2, strides: 2, pad: 'valid' },
    { name: 'cnn3 11x11x64 (odd size), 2x2', x: [4, 11, 11, 64], size: 2, strides: 2, pad: 'valid' },
    { name: 'cnn4 8x8x128, 2x2', x: [3, 8, 8, 128], size: 2, strides: 2, pad: 'valid' },
    { name: '3x3 stride 2 overlapping, same', x: [2, 9, 10, 3], size: 3, strides: 2, pad: 'same' },
    { name: '2x2 stride 1', x: [2, 6, 5, 4], size: 2, strides: 1, pad: 'valid' },
    { name: '2x2 same on odd sizes', x: [1, 7, 5, 5], size: 2, strides: 2, pad: 'same' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const x = input(c.x);
      const pool = (t: tf.Tensor) => tf.maxPool(t as T4, c.size, c.strides, c.pad);
      const dy = input(tf.tidy(() => pool(tf.zeros(c.x)).shape));
      await checkAgainstCpu(c.name, [x, dy], (t, d) => tf.grad(pool)(t, d));
    });
  }

  it('windows of only negative values or of ties pass their gradient to the first maximum', async () => {
    // After batch norm (cnn4) windows can be all negative; after ReLU they are often all zero.
    const values = new Float32Array([-3, -1, -2, -4, 0, 0, 0, 0, -5, -5, 1, 2, -1, -1, -1, -1]);
    const x = { shape: [1, 4, 4, 1], values };
    const dy = { shape: [1, 2, 2, 1], values: new Float32Array([1, 2, 3, 4]) };
    const f = (t: tf.Tensor, d: tf.Tensor) => tf.grad((s: tf.Tensor) => tf.maxPool(s as T4, 2, 2, 'valid'))(t, d);
    await checkAgainstCpu('negative and tied windows', [x, dy], f);
    const [g] = await runOn('wasm', [x, dy], f);
    assert.deepEqual(Array.from(g.values), [0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 4, 3, 0, 0, 0]);
  });
});

describe('reductions, tiling and copies on wasm match the cpu backend', () => {
  it('Sum and Mean over leading axes (odd and even row counts, keepDims)', async () => {
    for (const shape of [[4, 26, 26, 32], [3, 11, 11, 64], [1, 1, 1, 5], [7, 3], [1, 9]]) {
      const x = input(shape);
      const lead = shape.slice(0, -1).map((_, i) => i);
      await checkAgainstCpu(`sum ${shape}`, [x], (t) => tf.sum(t, lead));
      await checkAgainstCpu(`mean ${shape}`, [x], (t) => tf.mean(t, lead));
      await checkAgainstCpu(`sum keepDims ${shape}`, [x], (t) => tf.sum(t, lead, true));
      await checkAgainstCpu(`mean keepDims ${shape}`, [x], (t) => tf.mean(t, lead, true));
    }
  });

  it('other reductions still go to the stock kernels', async () => {
    const x = input([3, 5, 4, 6]);
    for (const axes of [[1, 2], [3], [0, 2], [0, 1, 2, 3], [-1]]) {
      await checkAgainstCpu(`sum ${axes}`, [x], (t) => tf.sum(t, axes));
      await checkAgainstCpu(`mean ${axes}`, [x], (t) => tf.mean(t, axes, true));
    }
    await checkAgainstCpu('int32 sum', [x], (t) => tf.cast(tf.sum(tf.cast(tf.mul(t, 10), 'int32'), [0, 1]), 'float32'));
  });

  it('Tile of a broadcast row, and other tilings', async () => {
    await checkAgainstCpu('row', [input([1, 1, 1, 32])], (t) => tf.tile(t, [5, 7, 3, 1]));
    await checkAgainstCpu('row, last axis tiled too', [input([1, 1, 3])], (t) => tf.tile(t, [4, 2, 2]));
    await checkAgainstCpu('vector', [input([5])], (t) => tf.tile(t, [3]));
    await checkAgainstCpu('general', [input([2, 3, 1])], (t) => tf.tile(t, [2, 1, 4]));
  });

  it('Identity and same-dtype Cast share memory safely; other casts convert', async () => {
    await tf.setBackend('wasm');
    const before = tf.backend().numDataIds();
    const x = tf.tensor([1.5, -2.25, 3]);
    const copy = tf.clone(x);
    const same = tf.cast(x, 'float32');
    x.dispose();
    assert.deepEqual(Array.from(copy.dataSync()), [1.5, -2.25, 3]);
    assert.deepEqual(Array.from(same.dataSync()), [1.5, -2.25, 3]);
    const asInt = tf.cast(copy, 'int32');
    assert.equal(asInt.dtype, 'int32');
    assert.deepEqual(Array.from(asInt.dataSync()), [1, -2, 3]);
    tf.dispose([copy, same, asInt]);
    assert.equal(tf.backend().numDataIds(), before);
  });
});
