/** Optimizers and loss from the typed config (src/train/optimizer.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/backend/index.js';
import { DEFAULT_OPTIMIZER, accumulatedBeta, compileForTraining, makeLoss, makeOptimizer } from '../../src/train/optimizer.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';

function model(seed: string): tfl.LayersModel {
  return withSeededMathRandom(new Rng(seed), () => {
    const m = tfl.sequential();
    m.add(tfl.layers.dense({ inputShape: [6], units: 5, activation: 'relu' }));
    m.add(tfl.layers.dense({ units: 3, activation: 'softmax' }));
    return m;
  });
}

const xs = () => tf.tensor2d(Array.from({ length: 24 }, (_, i) => Math.sin(i)), [4, 6]);
const ys = () => tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
const weights = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

test('the default optimizer is TF.js\'s Adam, step for step and bit for bit', async () => {
  await initBackend('cpu');
  const a = model('same');
  const b = model('same');
  compileForTraining(a, { optimizer: DEFAULT_OPTIMIZER, lr: 0.01, labelSmoothing: 0 });
  b.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await a.trainOnBatch(xs(), ys()), await b.trainOnBatch(xs(), ys()));
  }
  assert.deepEqual(weights(a), weights(b));
});

test('every optimizer reads and sets its learning rate, and SGD steps with the one set', async () => {
  await initBackend('cpu');
  for (const spec of [DEFAULT_OPTIMIZER, { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: null, weightDecay: 0.1 }, { kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 }] as const) {
    const o = makeOptimizer(spec, 0.5);
    assert.equal(o.getLearningRate(), 0.5);
    o.setLearningRate(0.25);
    assert.equal(o.getLearningRate(), 0.25, spec.kind);
  }
  const w = tf.variable(tf.tensor1d([1, 2]));
  const sgd = makeOptimizer({ kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 }, 0.5);
  sgd.setLearningRate(0.1);
  sgd.applyGradients({ [w.name]: tf.tensor1d([1, 1]) });
  assert.deepEqual(Array.from(w.dataSync()).map((v) => +v.toFixed(6)), [0.9, 1.9]);
});

test('SGD with momentum accumulates: two equal gradients move by lr*g, then lr*(1+m)*g', async () => {
  await initBackend('cpu');
  const w = tf.variable(tf.tensor1d([0]));
  const o = makeOptimizer({ kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 }, 0.1);
  o.applyGradients({ [w.name]: tf.tensor1d([1]) });
  assert.ok(Math.abs(w.dataSync()[0] + 0.1) < 1e-6);
  o.applyGradients({ [w.name]: tf.tensor1d([1]) });
  assert.ok(Math.abs(w.dataSync()[0] + 0.1 + 0.19) < 1e-6, `got ${w.dataSync()[0]}`);
});

test('AdamW decays kernels by lr*decay per step and leaves biases alone', async () => {
  await initBackend('cpu');
  const kernel = tf.variable(tf.tensor2d([[1, -2], [3, 4]]));
  const bias = tf.variable(tf.tensor1d([1, 1]));
  const o = makeOptimizer({ kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: null, weightDecay: 0.5 }, 0.1);
  // A zero gradient makes Adam's own step zero, so only the decay moves the weights.
  o.applyGradients({ [kernel.name]: tf.zeros([2, 2]), [bias.name]: tf.zeros([2]) });
  assert.deepEqual(Array.from(kernel.dataSync()).map((v) => +v.toFixed(5)), [0.95, -1.9, 2.85, 3.8]);
  assert.deepEqual(Array.from(bias.dataSync()), [1, 1]);
});

test('label smoothing is Keras\'s: cross-entropy against y(1-s) + s/classes; none is the plain loss', async () => {
  await initBackend('cpu');
  assert.equal(makeLoss(0), 'categoricalCrossentropy');
  const loss = makeLoss(0.3);
  assert.equal(typeof loss, 'function');
  const yTrue = tf.tensor2d([[0, 1, 0]]);
  const p = [0.2, 0.5, 0.3];
  const got = (loss as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(yTrue, tf.tensor2d([p])).dataSync()[0];
  const target = [0.1, 0.8, 0.1];
  const want = -target.reduce((s, t, i) => s + t * Math.log(p[i]), 0);
  assert.ok(Math.abs(got - want) < 1e-5, `got ${got}, want ${want}`);
  const m = model('ls');
  compileForTraining(m, { optimizer: DEFAULT_OPTIMIZER, lr: 0.01, labelSmoothing: 0.1 });
  const [l, acc] = (await m.trainOnBatch(xs(), ys())) as number[];
  assert.ok(Number.isFinite(l) && acc >= 0 && acc <= 1);
});

/** Runs `steps` Adam steps on a small variable with seeded gradients; returns its values. */
function adamSteps(opt: tf.Optimizer, v: tf.Variable, rng: Rng, steps: number): void {
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => opt.applyGradients({ [v.name]: tf.tensor1d(Array.from({ length: v.size }, () => rng.next() - 0.5)) }));
  }
}

test('Adam resumes bit for bit after hundreds of steps (beta^t is saved, not recomputed with pow)', async () => {
  await initBackend('cpu');
  const init = Array.from({ length: 64 }, (_, i) => Math.cos(i) / 1000);
  const run = async (make: () => tf.Optimizer) => {
    const straight = tf.variable(tf.tensor1d(init));
    const o1 = make();
    const r1 = new Rng('grads');
    adamSteps(o1, straight, r1, 488);

    const resumed = tf.variable(tf.tensor1d(init));
    const before = make();
    const r2 = new Rng('grads');
    // 188 steps: one epoch of the article's protocol on the full 48k split.
    adamSteps(before, resumed, r2, 188);
    const saved = await before.getWeights();
    const copies = saved.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    const after = make();
    await after.setWeights(copies);
    adamSteps(after, resumed, new Rng(r2.getState()), 300);
    return { straight: Array.from(straight.dataSync()), resumed: Array.from(resumed.dataSync()) };
  };
  const ours = await run(() => makeOptimizer(DEFAULT_OPTIMIZER, 0.001));
  assert.deepEqual(ours.resumed, ours.straight);
  // The reason for the override: TF.js's own Adam does not resume exactly.
  const theirs = await run(() => tf.train.adam(0.001));
  assert.notDeepEqual(theirs.resumed, theirs.straight, 'TF.js Adam now resumes exactly: the override may be unnecessary');
});

test('accumulatedBeta is the float32 product TF.js accumulates', () => {
  assert.equal(accumulatedBeta(0.9, 0), Math.fround(0.9));
  assert.equal(accumulatedBeta(0.9, 2), Math.fround(Math.fround(Math.fround(0.9) * Math.fround(0.9)) * Math.fround(0.9)));
});
