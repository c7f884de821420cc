/** The run store (src/runs): one behaviour per file, typed errors that name the file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/backend/index.js';
import { saveModel } from '../../src/models/io.js';
import { loadedPath, mapTeacherPaths, storedPath } from '../../src/runs/record-paths.js';
import {
  checkpointDir,
  cleanStaleFiles,
  createRunRecord,
  hasCheckpoint,
  listRuns,
  loadCheckpoint,
  loadRunModel,
  readEvalReport,
  readHistory,
  readRunConfig,
  recordEvaluation,
  saveCheckpoint,
  RunExistsError,
  RunFileCorruptError,
  RunFileMissingError,
  RunNotFoundError,
  type EvalResult,
  type RunConfig,
  type TrainState,
} from '../../src/runs/index.js';
import { DEFAULT_OPTIMIZER, makeOptimizer } from '../../src/train/optimizer.js';
import { ARTICLE_AUGMENTATION } from '../../src/train/augment.js';
import { freshTrainState } from '../../src/train/trainer.js';

const fresh = (name: string) => path.join(mkdtempSync(path.join(tmpdir(), `fcnn-runs-${name}-`)), 'run');

function config(model = 'cnn1'): RunConfig {
  return {
    format: 2,
    id: 'run',
    modelOptions: {},
    model,
    createdAt: '2026-01-01T00:00:00.000Z',
    hyper: { epochs: 1, augEpochs: 0, batchSize: 32, lr: 0.001, seed: 1, valSplit: 0.2, limit: 100, earlyStop: null, lrSchedule: { kind: 'constant' }, optimizer: DEFAULT_OPTIMIZER, labelSmoothing: 0, tta: 'none', ema: null, distill: null },
    augmentation: ARTICLE_AUGMENTATION,
    data: { kind: 'system', dir: '/data', files: Object.fromEntries(['trainImages', 'trainLabels', 'testImages', 'testLabels'].map((k) => [k, { path: `/data/${k}`, md5: '0'.repeat(32), verified: true }])) as RunConfig['data']['files'], trainCount: 80, valCount: 20, testCount: 10 },
    backend: 'cpu',
    params: { total: 1, trainable: 1, nonTrainable: 0 },
    versions: {},
  };
}

const result = (phase: EvalResult['phase'], acc: number): EvalResult => ({ phase, epoch: 1, test_loss: 1, test_acc: acc, per_class: [], macro_f1: 0, confusion: [], count: 0 });

async function rejectsAs(p: Promise<unknown>, cls: new (...a: never[]) => Error, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.match((e as Error).message, re);
    assert.ok(!(e as Error).message.includes('\n'), 'one line');
    return true;
  });
}

test('config.json: a missing directory, a missing file and bad JSON are three typed errors naming the path', async () => {
  await rejectsAs(readRunConfig('/nonexistent/run'), RunNotFoundError, /\/nonexistent\/run does not exist/);
  const dir = fresh('cfg');
  mkdirSync(dir, { recursive: true });
  await rejectsAs(readRunConfig(dir), RunFileMissingError, /config\.json does not exist/);
  writeFileSync(path.join(dir, 'config.json'), '{"model": "cnn1", "hyper": ');
  await rejectsAs(readRunConfig(dir), RunFileCorruptError, /config\.json is damaged: not valid JSON/);
  writeFileSync(path.join(dir, 'config.json'), '{"model": "cnn1"}');
  await rejectsAs(readRunConfig(dir), RunFileCorruptError, /config\.json is damaged: missing hyper, augmentation/);
});

test('a config.json from an earlier version reads in today\'s form', async () => {
  const dir = fresh('old');
  mkdirSync(dir, { recursive: true });
  const old = config() as unknown as { hyper: Record<string, unknown>; augmentation: Record<string, unknown> };
  delete old.hyper.optimizer;
  delete old.hyper.labelSmoothing;
  delete old.augmentation.interpolation;
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(old));
  const c = await readRunConfig(dir);
  assert.deepEqual(c.hyper.optimizer, { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: null });
  assert.equal(c.hyper.labelSmoothing, 0);
  assert.equal(c.augmentation.interpolation, 'bilinear', 'records from before the flag were trained with bilinear sampling');
});

test('a new record refuses a directory that holds a run; history drops a cut-off last line and names a bad one', async () => {
  const dir = fresh('hist');
  await createRunRecord(dir, config());
  await rejectsAs(createRunRecord(dir, config()), RunExistsError, /already holds a run/);
  assert.deepEqual(await readHistory(dir), []);
  const row = { phase: 'base', epoch: 1, loss: 1, acc: 0.5, val_loss: 1, val_acc: 0.5, seconds: 1, lr: 0.001 };
  writeFileSync(path.join(dir, 'history.jsonl'), JSON.stringify(row) + '\n' + JSON.stringify({ ...row, epoch: 2 }).slice(0, 20));
  assert.deepEqual(await readHistory(dir), [row]);
  writeFileSync(path.join(dir, 'history.jsonl'), JSON.stringify(row) + '\n{oops\n');
  await rejectsAs(readHistory(dir), RunFileCorruptError, /history\.jsonl line 2 is damaged/);
});

test('eval.json: absent is null, damaged is an error, results are kept in phase order', async () => {
  const dir = fresh('eval');
  await createRunRecord(dir, config());
  assert.equal(await readEvalReport(dir), null);
  await recordEvaluation(dir, 'cnn1', result('final', 0.3));
  await recordEvaluation(dir, 'cnn1', result('base', 0.1));
  await recordEvaluation(dir, 'cnn1', result('base', 0.2));
  const report = await readEvalReport(dir);
  assert.deepEqual(report?.results.map((r) => [r.phase, r.test_acc]), [['base', 0.2], ['final', 0.3]]);
  writeFileSync(path.join(dir, 'eval.json'), '[1, 2');
  await rejectsAs(readEvalReport(dir), RunFileCorruptError, /eval\.json is damaged/);
  await rejectsAs(recordEvaluation(dir, 'cnn1', result('base', 0.5)), RunFileCorruptError, /eval\.json/);
  assert.equal(readFileSync(path.join(dir, 'eval.json'), 'utf8'), '[1, 2', 'a damaged record is not overwritten');
});

test('eval.json: writers at the same moment each keep their result (the read-modify-write is locked)', async () => {
  const dir = fresh('eval-race');
  await createRunRecord(dir, config());
  await Promise.all((['base', 'augment', 'final'] as const).map((phase, i) => recordEvaluation(dir, 'cnn1', result(phase, 0.1 * (i + 1)))));
  assert.deepEqual((await readEvalReport(dir))?.results.map((r) => r.phase), ['base', 'augment', 'final']);
  assert.ok(!existsSync(path.join(dir, 'eval.json.lock')), 'the update lock is released');
});

test('eval.json: a final result older than a training phase\'s (a checkpoint evaluated before the run was resumed) is dropped', async () => {
  const dir = fresh('eval-stale-final');
  await createRunRecord(dir, config());
  await recordEvaluation(dir, 'cnn1', { ...result('final', 0.5), epoch: 3 });
  await recordEvaluation(dir, 'cnn1', { ...result('base', 0.6), epoch: 10 });
  assert.deepEqual((await readEvalReport(dir))?.results.map((r) => [r.phase, r.epoch]), [['base', 10]]);
  await recordEvaluation(dir, 'cnn1', { ...result('final', 0.6), epoch: 10 });
  await recordEvaluation(dir, 'cnn1', { ...result('base', 0.6), epoch: 10 });
  assert.deepEqual((await readEvalReport(dir))?.results.map((r) => [r.phase, r.epoch]), [['base', 10], ['final', 10]], 'a final result of the same epoch stays');
});

test('cleanStaleFiles removes the temp files of writes that died, not those of a write under way in another running process', async () => {
  const dir = fresh('stale-files');
  await createRunRecord(dir, config());
  const writer = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  try {
    const live = `eval.json.tmp-${writer.pid}-0a1b2c3d`;
    const left = [`eval.json.tmp-${dead}-0a1b2c3d`, `.model.new-${dead}-0a1b2c3d`, `train.lock.tmp-stale-${dead}-0a1b2c3d`];
    for (const name of [live, ...left]) writeFileSync(path.join(dir, name), '{}');
    await cleanStaleFiles(dir);
    assert.ok(existsSync(path.join(dir, live)), 'a running writer keeps its temp file');
    for (const name of left) assert.ok(!existsSync(path.join(dir, name)), `${name} is removed`);
  } finally {
    writer.kill('SIGKILL');
  }
});

function tinyModel(inputShape: number[], classes: number): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape }));
  m.add(tfl.layers.dense({ units: classes, activation: 'softmax' }));
  return m;
}

test('a run\'s model loads with its shapes checked; a missing or damaged model is an error naming the folder', async () => {
  await initBackend('cpu');
  const dir = fresh('model');
  await createRunRecord(dir, config());
  await rejectsAs(loadRunModel(dir), RunFileMissingError, /holds no trained model/);

  await saveModel(tinyModel([28, 28, 1], 10), path.join(dir, 'model'));
  const { model, fromCheckpoint } = await loadRunModel(dir);
  assert.equal(fromCheckpoint, false);
  assert.deepEqual(model.outputs[0].shape, [null, 10]);
  model.dispose();

  await saveModel(tinyModel([32, 32, 3], 10), path.join(dir, 'model'));
  await rejectsAs(loadRunModel(dir), Error, /run\/model: the model takes input of shape \[batch, 32, 32, 3\], not 28x28x1 images/);
  await saveModel(tinyModel([28, 28, 1], 7), path.join(dir, 'model'));
  await rejectsAs(loadRunModel(dir), Error, /gives output of shape \[batch, 7\], not 10 class probabilities/);

  await saveModel(tinyModel([28, 28, 1], 10), path.join(dir, 'model'));
  truncateSync(path.join(dir, 'model', 'weights.bin'), 100);
  await rejectsAs(loadRunModel(dir), Error, /model\/weights\.bin: holds 100 bytes of weights/);
  writeFileSync(path.join(dir, 'model', 'model.json'), '{"modelTopology": ');
  await rejectsAs(loadRunModel(dir), Error, /model\/model\.json/);
});

test('a checkpoint round-trips model, optimizer and state; a truncated optimizer file is named', async () => {
  await initBackend('cpu');
  const dir = fresh('ck');
  await createRunRecord(dir, config());
  assert.equal(await hasCheckpoint(dir), false);
  const model = tinyModel([4, 4, 1], 10);
  const optimizer = makeOptimizer(DEFAULT_OPTIMIZER, 0.01);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  await model.trainOnBatch(tf.ones([2, 4, 4, 1]), tf.oneHot(tf.tensor1d([1, 2], 'int32'), 10));
  const state: TrainState = { ...freshTrainState(3, 0.01), epochsDone: { base: 1, augment: 0 } };
  await saveCheckpoint(dir, model, optimizer, state);
  assert.equal(await hasCheckpoint(dir), true);

  const ck = await loadCheckpoint(dir);
  assert.deepEqual(ck.state, state);
  const saved = await optimizer.getWeights();
  assert.deepEqual(ck.optimizerWeights.map((w) => w.name), saved.map((w) => w.name));
  for (let i = 0; i < saved.length; i++) assert.deepEqual(await ck.optimizerWeights[i].tensor.data(), await saved[i].tensor.data());
  const [a, b] = [model.getWeights(), ck.model.getWeights()];
  for (let i = 0; i < a.length; i++) assert.deepEqual(await b[i].data(), await a[i].data());

  const ckDir = await checkpointDir(dir);
  assert.ok(ckDir);
  truncateSync(path.join(ckDir, 'optimizer.bin'), 12);
  await rejectsAs(loadCheckpoint(dir), RunFileCorruptError, /optimizer\.bin is damaged: holds 12 bytes/);
  writeFileSync(path.join(ckDir, 'state.json'), '{');
  await rejectsAs(loadCheckpoint(dir), RunFileCorruptError, /state\.json is damaged/);
});

test('listRuns lists every run under a folder, a damaged one with its error', async () => {
  const root = path.dirname(fresh('list'));
  await createRunRecord(path.join(root, 'b-run'), config('cnn3'));
  await createRunRecord(path.join(root, 'a-run'), config('cnn1'));
  await recordEvaluation(path.join(root, 'a-run'), 'cnn1', result('base', 0.9));
  mkdirSync(path.join(root, 'c-broken'));
  writeFileSync(path.join(root, 'c-broken', 'config.json'), 'nope');
  mkdirSync(path.join(root, 'not-a-run'));
  const runs = await listRuns(root);
  assert.deepEqual(runs.map((r) => r.id), ['a-run', 'b-run', 'c-broken']);
  assert.equal(runs[0].config?.model, 'cnn1');
  assert.equal(runs[0].lastEval?.test_acc, 0.9);
  assert.equal(runs[1].lastEval, null);
  assert.match(runs[2].error ?? '', /config\.json is damaged/);
  assert.deepEqual(await listRuns(path.join(root, 'none')), []);
});

test('a weights.bin that does not fit model.json (another model\'s, or cut short) is refused, naming both files', async () => {
  await initBackend('cpu');
  const dir = fresh('weights');
  await createRunRecord(dir, config());
  await saveModel(tinyModel([28, 28, 1], 10), path.join(dir, 'model'));
  const other = fresh('other');
  await saveModel(tinyModel([28, 28, 2], 10), other);
  writeFileSync(path.join(dir, 'model', 'weights.bin'), readFileSync(path.join(other, 'weights.bin')));
  await rejectsAs(loadRunModel(dir), Error, /weights\.bin: holds 62760 bytes of weights, .*model\.json describes 31400/);
});

test('record paths: stored relative to the record\'s folder from an absolute or working-directory path, read back absolute', () => {
  assert.equal(storedPath('runs/sweeps/s/student', 'runs/teachers/t'), path.join('..', '..', '..', 'teachers', 't'));
  assert.equal(storedPath('/x/runs/student', '/x/runs/teachers/t'), path.join('..', 'teachers', 't'));
  assert.equal(loadedPath('runs/sweeps/s/student', path.join('..', '..', '..', 'teachers', 't')), path.resolve('runs/teachers/t'));
  assert.equal(loadedPath('/y/student', '/x/teachers/t'), '/x/teachers/t', 'a record written with absolute paths reads the same');
  const hyper = { lr: 0.1, distill: { teacher: ['/x/a', '/x/b'], temperature: 4, weight: 0.5, targets: 'batch' as const } };
  assert.deepEqual(mapTeacherPaths(hyper, (p) => storedPath('/x/s', p)).distill?.teacher, [path.join('..', 'a'), path.join('..', 'b')]);
  assert.equal(mapTeacherPaths({ distill: null }, () => 'never').distill, null);
});
