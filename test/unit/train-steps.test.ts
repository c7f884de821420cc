/** The named steps of a training run (src/train/run.ts), called one by one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { RunExistsError, RunNotFoundError, createRunRecord, readRunConfig, saveCheckpoint, type TrainHyperParams } from '../../src/runs/index.js';
import { ARTICLE_AUGMENTATION } from '../../src/train/augment.js';
import { compileModel, openRun, recordRunStart, restoreOrBuildModel } from '../../src/train/run.js';
import { countParams } from '../../src/models/build.js';
import { FASHION_SHAPE } from '../../src/data/types.js';
import { UserError } from '../../src/util/errors.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';

const hyper: TrainHyperParams = {
  epochs: 1, augEpochs: 1, batchSize: 8, lr: 0.002, seed: 4, valSplit: 0.2, limit: 64, earlyStop: null, lrSchedule: { kind: 'constant' },
  optimizer: { kind: 'sgd', momentum: 0.5, nesterov: true, weightDecay: 0.01 }, labelSmoothing: 0.1, tta: 'flip', ema: null, distill: null,
};
const quiet = () => {};
const fresh = () => path.join(mkdtempSync(path.join(tmpdir(), 'fcnn-steps-')), 'run');
const tinyData = (runDir: string) => ({
  // A whole record's data source (the run store checks what it reads back): four files, not verified.
  source: { kind: 'system' as const, dir: '/nowhere', files: Object.fromEntries(['trainImages', 'trainLabels', 'testImages', 'testLabels'].map((k) => [k, { path: `/nowhere/${k}`, md5: '', verified: false }])) as never },
  split: { train: { x: new Float32Array(0), y: new Uint8Array(0), count: 51, indices: new Uint32Array(0), shape: FASHION_SHAPE }, val: { x: new Float32Array(0), y: new Uint8Array(0), count: 13, indices: new Uint32Array(0), shape: FASHION_SHAPE } },
  test: { x: new Float32Array(0), y: new Uint8Array(0), count: 10, indices: new Uint32Array(0), shape: FASHION_SHAPE },
  runDir,
});

test('openRun: a new run needs a known model and a free directory; resuming needs an existing record', async () => {
  const runDir = fresh();
  await assert.rejects(openRun({ hyper, augmentation: ARTICLE_AUGMENTATION, runDir }), (e) => e instanceof UserError && /needs --model/.test(e.message));
  await assert.rejects(openRun({ model: 'nope', hyper, augmentation: ARTICLE_AUGMENTATION, runDir }), /unknown model "nope"/);
  await assert.rejects(openRun({ model: 'cnn1', hyper, augmentation: ARTICLE_AUGMENTATION, runDir, resume: true }), RunNotFoundError);
  const plan = await openRun({ model: 'cnn1', hyper, augmentation: ARTICLE_AUGMENTATION, runDir });
  assert.equal(plan.existing, null);
  assert.equal(plan.spec.name, 'cnn1');
  await initBackend('cpu');
  const start = await restoreOrBuildModel(plan, quiet);
  await recordRunStart(plan, countParams(start.model), tinyData(runDir), { name: 'cpu', description: 'cpu' });
  await assert.rejects(openRun({ model: 'cnn1', hyper, augmentation: ARTICLE_AUGMENTATION, runDir }), RunExistsError);
  const resumed = await openRun({ model: 'cnn3', hyper: { ...hyper, lr: 1 }, augmentation: ARTICLE_AUGMENTATION, runDir, resume: true });
  assert.equal(resumed.spec.name, 'cnn1', 'a resumed run is what its record says');
  assert.deepEqual(resumed.hyper, hyper);
  assert.deepEqual((await readRunConfig(runDir)).hyper.optimizer, hyper.optimizer, 'the optimizer is recorded');
});

test('restoreOrBuildModel: the same seed builds the same weights; a checkpoint restores model and optimizer', async () => {
  await initBackend('cpu');
  const runDir = fresh();
  const plan = await openRun({ model: 'cnn1', hyper, augmentation: ARTICLE_AUGMENTATION, runDir });
  const a = await restoreOrBuildModel(plan, quiet);
  const b = await restoreOrBuildModel(plan, quiet);
  assert.deepEqual(a.model.getWeights().map((w) => Array.from(w.dataSync().slice(0, 50))), b.model.getWeights().map((w) => Array.from(w.dataSync().slice(0, 50))));
  assert.equal(a.state.learningRate, hyper.lr);

  const optimizer = await compileModel(a, hyper);
  assert.equal(optimizer.getLearningRate(), hyper.lr);
  const x = tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
  await a.model.trainOnBatch(x, y);
  await createRunRecord(runDir, { ...(await recordRunStartConfig(plan, a)), id: 'run' });
  await saveCheckpoint(runDir, a.model, optimizer, { ...a.state, epochsDone: { base: 1, augment: 0 } });

  const resumed = await openRun({ hyper, augmentation: ARTICLE_AUGMENTATION, runDir, resume: true });
  const restored = await restoreOrBuildModel(resumed, quiet);
  assert.equal(restored.state.epochsDone.base, 1);
  assert.ok(restored.optimizerWeights && restored.optimizerWeights.length > 0);
  const saved = await optimizer.getWeights();
  const names = restored.optimizerWeights.map((w) => w.name);
  const again = await compileModel(restored, hyper);
  assert.equal(restored.optimizerWeights, null, 'compileModel frees the loaded optimizer state');
  const now = await again.getWeights();
  assert.deepEqual(now.map((w) => w.name), names);
  for (let i = 0; i < saved.length; i++) assert.deepEqual(Array.from(await now[i].tensor.data()), Array.from(await saved[i].tensor.data()));
  // One more step from the same state gives the same weights in the restored model as in the original.
  // Dropout draws from Math.random: the same stream for both steps.
  await withSeededMathRandom(new Rng('step'), () => a.model.trainOnBatch(x, y));
  await withSeededMathRandom(new Rng('step'), () => restored.model.trainOnBatch(x, y));
  assert.deepEqual(restored.model.getWeights().map((w) => Array.from(w.dataSync())), a.model.getWeights().map((w) => Array.from(w.dataSync())));
});

async function recordRunStartConfig(plan: Awaited<ReturnType<typeof openRun>>, start: Awaited<ReturnType<typeof restoreOrBuildModel>>) {
  const dir = fresh();
  await recordRunStart({ ...plan, runDir: dir }, countParams(start.model), tinyData(dir), { name: 'cpu', description: 'cpu' });
  return readRunConfig(dir);
}
