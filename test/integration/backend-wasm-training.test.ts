/**
 * The project's models on the wasm backend with fashion-cnn's kernels: cnn1/cnn3/cnn4 train,
 * predict and evaluate; a few Adam steps of cnn3 (and of a small batch-norm model) match TF.js's
 * reference 'cpu' backend from the same initial weights and the same dropout masks; batch-norm
 * moving statistics and inference mode behave. The cpu reference is very slow on convolutions
 * (its filter gradient runs at ~1 MFLOP/s), hence the tiny batches.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { initWasmBackend } from '../../src/backend/wasm/index.js';
import { buildModel, requireModelSpec } from '../../src/models/build.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';

before(async () => {
  await initWasmBackend();
});

function batch(seed: string, n: number, size = 28): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const rng = new Rng(seed);
  const pixels = new Float32Array(n * size * size);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.next();
  const labels = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) labels[i * 10 + rng.int(10)] = 1;
  return { x: tf.tensor4d(pixels, [n, size, size, 1]), y: tf.tensor2d(labels, [n, 10]) };
}

function compileAdam(model: tfl.LayersModel): void {
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
}

interface Trace {
  losses: number[];
  weights: Float32Array[];
  names: string[];
}

/**
 * Builds a model and trains it `steps` Adam steps on `backendName`, with Math.random seeded for
 * both the initial weights and the dropout masks (TF.js draws both in JS, whatever the backend).
 */
async function trainOn(backendName: string, make: () => tfl.LayersModel | Promise<tfl.LayersModel>, steps: number, n: number, size: number): Promise<Trace> {
  await tf.setBackend(backendName);
  const model = await withSeededMathRandom(new Rng('init'), make);
  compileAdam(model);
  const { x, y } = batch('data', n, size);
  const losses: number[] = [];
  const dropout = new Rng('dropout');
  for (let s = 0; s < steps; s++) {
    const [loss] = (await withSeededMathRandom(dropout, () => model.trainOnBatch(x, y))) as number[];
    losses.push(loss);
  }
  const weights = model.weights.map((w) => w.read().dataSync() as Float32Array);
  const names = model.weights.map((w) => w.originalName);
  tf.dispose([x, y]);
  model.dispose();
  return { losses, weights, names };
}

function assertSameTraining(wasm: Trace, cpu: Trace): void {
  wasm.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.losses[i]) <= 1e-4 * Math.abs(cpu.losses[i]), `loss ${i}: wasm ${l} vs cpu ${cpu.losses[i]}`));
  // Layer names carry a process-wide counter; the order of the weights is what must agree.
  const kinds = (names: string[]) => names.map((n) => n.replace(/\d+/g, ''));
  assert.deepEqual(kinds(wasm.names), kinds(cpu.names));
  wasm.weights.forEach((w, i) => {
    let maxErr = 0;
    let scale = 0;
    for (let j = 0; j < w.length; j++) {
      maxErr = Math.max(maxErr, Math.abs(w[j] - cpu.weights[i][j]));
      scale = Math.max(scale, Math.abs(cpu.weights[i][j]));
    }
    // Adam moves each weight by ~lr a step whatever the gradient's size, so rounding-level
    // differences in tiny gradients show as differences of a small fraction of lr.
    assert.ok(maxErr <= 1e-4 * Math.max(scale, 1) + 1e-5, `${cpu.names[i]}: max difference ${maxErr} (scale ${scale})`);
  });
}

describe('cnn1, cnn3 and cnn4 on wasm', () => {
  for (const name of ['cnn1', 'cnn3', 'cnn4']) {
    it(`${name} trains, predicts and evaluates without leaking tensors`, async () => {
      await tf.setBackend('wasm');
      const model = await withSeededMathRandom(new Rng(name), () => buildModel(requireModelSpec(name)));
      compileAdam(model);
      const { x, y } = batch(name, 16);
      const losses: number[] = [];
      let tensorsAfterFirst = 0;
      const dropout = new Rng(`${name}/dropout`);
      for (let s = 0; s < 6; s++) {
        const [loss, acc] = (await withSeededMathRandom(dropout, () => model.trainOnBatch(x, y))) as number[];
        assert.ok(Number.isFinite(loss) && acc >= 0 && acc <= 1);
        losses.push(loss);
        if (s === 0) tensorsAfterFirst = tf.memory().numTensors;
        else assert.equal(tf.memory().numTensors, tensorsAfterFirst, 'a training step leaked tensors');
      }
      assert.ok(Math.max(losses[4], losses[5]) < losses[0], `loss should fall on a repeated batch: ${losses.join(', ')}`);
      const p = model.predict(x) as tf.Tensor;
      assert.deepEqual(p.shape, [16, 10]);
      const rowSums = tf.sum(p, 1).dataSync();
      for (const r of rowSums) assert.ok(Math.abs(r - 1) < 1e-5);
      const [evalLoss] = model.evaluate(x, y) as tf.Scalar[];
      assert.ok(Number.isFinite(evalLoss.dataSync()[0]));
      tf.dispose([p, evalLoss, x, y]);
      model.dispose();
    });
  }
});

describe('training on wasm matches the cpu backend', () => {
  it('three Adam steps of cnn3 (same initial weights, same dropout masks)', async () => {
    const make = () => buildModel(requireModelSpec('cnn3'));
    const cpu = await trainOn('cpu', make, 3, 2, 28);
    const wasm = await trainOn('wasm', make, 3, 2, 28);
    assertSameTraining(wasm, cpu);
  });

  it('three Adam steps of a small model with cnn4\'s layer kinds (batch norm before max-pooling, dropout)', async () => {
    // Max-pooling after batch norm sees windows of only negative values (the stock wasm
    // MaxPoolGrad dropped their gradient); both batch-norm placements of cnn4 are covered.
    const make = () => {
      const m = tfl.sequential();
      m.add(tfl.layers.conv2d({ inputShape: [10, 10, 1], filters: 4, kernelSize: 3, activation: 'relu' }));
      m.add(tfl.layers.batchNormalization());
      m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu' }));
      m.add(tfl.layers.batchNormalization());
      m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
      m.add(tfl.layers.dropout({ rate: 0.25 }));
      m.add(tfl.layers.flatten());
      m.add(tfl.layers.dense({ units: 12, activation: 'relu' }));
      m.add(tfl.layers.batchNormalization());
      m.add(tfl.layers.dropout({ rate: 0.5 }));
      m.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
      return m;
    };
    const cpu = await trainOn('cpu', make, 3, 8, 10);
    const wasm = await trainOn('wasm', make, 3, 8, 10);
    assertSameTraining(wasm, cpu);
  });
});

describe('inference mode and batch-norm statistics on wasm', () => {
  it('cnn4: training updates the moving statistics from batch statistics; predict is deterministic', async () => {
    await tf.setBackend('wasm');
    const model = await withSeededMathRandom(new Rng('cnn4-bn'), () => buildModel(requireModelSpec('cnn4')));
    compileAdam(model);
    const { x, y } = batch('cnn4-bn', 8);
    const bn = model.layers[1] as tfl.layers.Layer;
    const conv = model.layers[0] as tfl.layers.Layer;
    const [kernel, bias] = conv.getWeights().map((w) => w.dataSync() as Float32Array);

    // What the first batch-norm layer sees in the first step: conv + ReLU with the initial weights,
    // computed on the cpu backend.
    await tf.setBackend('cpu');
    const expected = tf.tidy(() => {
      const a = tf.relu(tf.add(tf.conv2d(tf.tensor4d(x.dataSync(), x.shape), tf.tensor4d(kernel, [3, 3, 1, 32]), 1, 'valid'), tf.tensor1d(bias)));
      const { mean, variance } = tf.moments(a, [0, 1, 2]);
      // Keras-style moving averages with momentum 0.99 from (0, 1).
      return [tf.mul(mean, 0.01).dataSync(), tf.add(tf.mul(variance, 0.01), 0.99).dataSync()] as Float32Array[];
    });
    await tf.setBackend('wasm');

    const inference1 = (model.predict(x) as tf.Tensor).dataSync();
    await model.trainOnBatch(x, y);
    const [movingMean, movingVar] = bn.getWeights().slice(2).map((w) => w.dataSync() as Float32Array);
    for (let c = 0; c < 32; c++) {
      assert.ok(Math.abs(movingMean[c] - expected[0][c]) <= 1e-5 + 1e-4 * Math.abs(expected[0][c]), `moving mean ${c}: ${movingMean[c]} vs ${expected[0][c]}`);
      assert.ok(Math.abs(movingVar[c] - expected[1][c]) <= 1e-5 + 1e-4 * Math.abs(expected[1][c]), `moving variance ${c}: ${movingVar[c]} vs ${expected[1][c]}`);
    }

    const inference2 = (model.predict(x) as tf.Tensor).dataSync();
    const inference3 = (model.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual(inference2, inference3, 'predict must not apply dropout');
    assert.notDeepEqual(inference1, inference2, 'the weights changed');
    const training = tf.tidy(() => (model.apply(x, { training: true }) as tf.Tensor).dataSync());
    assert.notDeepEqual(training, inference2, 'a training-mode forward pass applies dropout and batch statistics');
    tf.dispose([x, y]);
    model.dispose();
  });
});
