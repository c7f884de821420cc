/** The weight average (--ema): its arithmetic, its swaps, and exact resume through checkpoints. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/backend/index.js';
import { loadFashionMnist, toExamples } from '../../src/data/index.js';
import { evaluateModel } from '../../src/evaluate/report.js';
import { loadCheckpoint, loadRunModel, type TrainHyperParams } from '../../src/runs/index.js';
import { NO_AUGMENTATION } from '../../src/train/augment.js';
import { compileForTraining } from '../../src/train/optimizer.js';
import { trainRun } from '../../src/train/run.js';
import { WeightAverage } from '../../src/train/weight-average.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';

const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const skip = HAVE_DATA ? false : 'Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)';

function tinyModel(): tfl.LayersModel {
  return withSeededMathRandom(new Rng('ema'), () => {
    const m = tfl.sequential();
    m.add(tfl.layers.dense({ inputShape: [4], units: 3, activation: 'relu' }));
    m.add(tfl.layers.batchNormalization());
    m.add(tfl.layers.dense({ units: 2, activation: 'softmax' }));
    return m;
  });
}
const values = (m: tfl.LayersModel) => m.weights.map((w) => Array.from(w.read().dataSync()));

test('the average follows avg = d*avg + (1-d)*w with d = min(decay, (1+t)/(10+t)), over every weight (batch-norm statistics too)', async () => {
  await initBackend('cpu');
  const model = tinyModel();
  const average = new WeightAverage(model, 0.5);
  // Expected values in float32, as the tensors compute them: a product each, then the sum.
  const f = Math.fround;
  let expected = values(model);
  const rng = new Rng('walk');
  for (let t = 0; t < 6; t++) {
    // A training step, simulated: every weight moves (the moving mean and variance included).
    tf.tidy(() => model.weights.forEach((w) => w.write(tf.add(w.read(), tf.mul(tf.scalar(rng.next() - 0.5), tf.onesLike(w.read()))))));
    const d = Math.min(0.5, (1 + t) / (10 + t));
    assert.equal(average.currentDecay(), d);
    average.update();
    const now = values(model);
    expected = expected.map((avg, i) => avg.map((a, k) => f(f(a * f(d)) + f(now[i][k] * f(1 - d)))));
  }
  const trained = values(model);
  const seen = await average.evaluateWith(() => values(model));
  seen.forEach((w, i) => w.forEach((v, k) => assert.ok(Math.abs(v - expected[i][k]) <= 1e-6 * Math.max(1, Math.abs(v)), `weight ${i}[${k}]: ${v} vs ${expected[i][k]}`)));
  assert.notDeepEqual(seen, trained);
  assert.deepEqual(values(model), trained, 'evaluateWith puts the trained weights back, bit for bit');
  average.finalize();
  assert.deepEqual(values(model), seen, 'after finalize the model holds the average');
  assert.throws(() => average.update(), /swap them out/);
  average.dispose();
  model.dispose();
});

test('weights of frozen layers are left out of the average, so they stay bit for bit what they are', async () => {
  await initBackend('cpu');
  const model = tinyModel();
  model.layers[0].trainable = false;
  const frozen = new Set(model.layers[0].weights.map((w) => w.id));
  const before = values(model);
  const average = new WeightAverage(model, 0.9);
  const rng = new Rng('frozen');
  for (let t = 0; t < 4; t++) {
    tf.tidy(() => model.weights.forEach((w) => { if (!frozen.has(w.id)) w.write(tf.add(w.read(), tf.scalar(rng.next() + 0.1))); }));
    average.update();
  }
  const averaged = await average.evaluateWith(() => values(model));
  model.weights.forEach((w, i) => {
    if (frozen.has(w.id)) assert.deepEqual(averaged[i], before[i], `frozen weight ${w.name}`);
    else assert.notDeepEqual(averaged[i], before[i], `trained weight ${w.name}`);
  });
  average.dispose();
  model.dispose();
});

test('the average is part of the optimizer\'s state: saved, restored, and refused when missing or of another shape', async () => {
  await initBackend('cpu');
  const hyper = { optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0 }, lr: 0.1, labelSmoothing: 0, ema: 0.9 } as const;
  const x = tf.tensor2d(Array.from({ length: 32 }, (_, i) => Math.sin(i)), [8, 4]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0, 1, 0, 0, 1], 'int32'), 2);
  const steps = async (m: tfl.LayersModel, n: number) => {
    for (let i = 0; i < n; i++) await m.trainOnBatch(x, y);
  };
  const straight = tinyModel();
  const o1 = compileForTraining(straight, hyper);
  await steps(straight, 488);

  const resumed = tinyModel();
  const o2 = compileForTraining(resumed, hyper);
  // 188 steps: one epoch of the best recipe on the 48k split; the average has reached its full decay.
  await steps(resumed, 188);
  const saved = (await o2.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
  assert.ok(saved.some((w) => w.name === 'ema/steps') && saved.filter((w) => w.name.startsWith('ema/')).length === resumed.weights.length + 1);
  const copy = tinyModel();
  copy.setWeights(resumed.getWeights());
  const o3 = compileForTraining(copy, hyper);
  await o3.setWeights(saved);
  await steps(copy, 300);
  assert.deepEqual(values(copy), values(straight), 'trained weights');
  assert.deepEqual(await o3.weightAverage!.evaluateWith(() => values(copy)), await o1.weightAverage!.evaluateWith(() => values(straight)), 'averages');

  const o4 = compileForTraining(tinyModel(), hyper);
  await assert.rejects(o4.setWeights(saved.filter((w) => !w.name.startsWith('ema/'))), /holds no weight averages/);
  await assert.rejects(o4.setWeights(saved.map((w) => (w.name === 'ema/0' ? { name: w.name, tensor: tf.zeros([2, 2]) } : w))), /do not match the model/);
});

const hyper: TrainHyperParams = {
  epochs: 1, augEpochs: 2, batchSize: 64, lr: 0.001, seed: 5, valSplit: 0.2, limit: 512, earlyStop: null, lrSchedule: { kind: 'constant' },
  optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: null }, labelSmoothing: 0, tta: 'none', ema: 0.9, distill: null,
};
test('a weight-average decay outside (0, 1) is refused before anything is written', async () => {
  const runDir = path.join(mkdtempSync(path.join(tmpdir(), 'fcnn-ema-bad-')), 'r');
  for (const ema of [0, 1, -0.5]) {
    await assert.rejects(trainRun({ model: 'cnn1', hyper: { ...hyper, ema }, augmentation: NO_AUGMENTATION, backend: 'cpu', runDir, pictures: false, progress: false, log: () => {} }), /decay \(ema\) must be between 0 and 1/);
    assert.equal(existsSync(runDir), false);
  }
});

const withoutSeconds = (rows: { seconds: number }[]) => rows.map(({ seconds: _s, ...rest }) => rest);

test('--ema: validation, test and the saved model use the average; a resumed run ends as an uninterrupted one', { skip }, async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'fcnn-ema-'));
  const data = await loadFashionMnist();
  const common = { model: 'cnn1', augmentation: NO_AUGMENTATION, backend: 'native' as const, data, pictures: false, progress: false, log: () => {} };
  const straight = await trainRun({ ...common, hyper, runDir: path.join(base, 'straight') });
  const plain = await trainRun({ ...common, hyper: { ...hyper, ema: null }, runDir: path.join(base, 'plain') });
  // Same seed, same steps: the training loss is the same, the validation (of the average) is not.
  assert.deepEqual(straight.history.map((r) => r.loss), plain.history.map((r) => r.loss));
  assert.notDeepEqual(straight.history.map((r) => r.val_loss), plain.history.map((r) => r.val_loss));
  assert.equal(straight.config.hyper.ema, 0.9);

  // The saved model is the average: the checkpoint's trained weights are not.
  const saved = (await loadRunModel(path.join(base, 'straight'))).model;
  const ck = await loadCheckpoint(path.join(base, 'straight'));
  const averages = ck.optimizerWeights.filter((w) => /^ema\/\d+$/.test(w.name));
  assert.equal(averages.length, saved.weights.length);
  saved.weights.forEach((w, i) => assert.deepEqual(Array.from(w.read().dataSync()), Array.from(averages[i].tensor.dataSync()), `weight ${i}`));
  assert.notDeepEqual(values(ck.model), values(saved));
  // The test figures recorded are the saved average's.
  const last = straight.eval.results.at(-1)!;
  assert.deepEqual(evaluateModel(saved, toExamples(data.test), { phase: last.phase, epoch: last.epoch }).result, last);
  assert.notDeepEqual(plain.eval.results.at(-1), last);

  const interrupted = path.join(base, 'interrupted');
  class Interrupt extends Error {}
  await assert.rejects(
    trainRun({ ...common, hyper, runDir: interrupted, callbacks: [{ onEpochEnd: (_c, row) => { if (row.epoch === 3) throw new Interrupt('simulated crash'); } }] }),
    Interrupt,
  );
  // Until it is resumed, the interrupted run's model (for evaluate, predict, the dashboard) is its checkpoint's average.
  const mid = await loadRunModel(interrupted);
  const midCk = await loadCheckpoint(interrupted);
  assert.equal(mid.fromCheckpoint, true);
  const midAverages = midCk.optimizerWeights.filter((w) => /^ema\/\d+$/.test(w.name));
  mid.model.weights.forEach((w, i) => assert.deepEqual(Array.from(w.read().dataSync()), Array.from(midAverages[i].tensor.dataSync()), `weight ${i}`));
  assert.notDeepEqual(values(mid.model), values(midCk.model));
  mid.model.dispose();
  const resumed = await trainRun({ ...common, hyper, runDir: interrupted, resume: true });
  assert.deepEqual(withoutSeconds(resumed.history), withoutSeconds(straight.history));
  assert.deepEqual(resumed.eval.results, straight.eval.results);
  assert.deepEqual(values((await loadRunModel(interrupted)).model), values(saved));
});
