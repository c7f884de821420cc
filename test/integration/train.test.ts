import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { trainRun } from '../../src/train/run.js';
import { ARTICLE_AUGMENTATION } from '../../src/train/augment.js';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer.js';
import { readHistory, type TrainHyperParams } from '../../src/runs/index.js';
import { loadFashionMnist } from '../../src/data/index.js';
import type { FashionMnist } from '../../src/data/types.js';
import { runCli } from '../helpers/cli.js';
import { startCli, until } from '../helpers/sweep-cli.js';

const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const skip = HAVE_DATA ? false : 'Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)';

const hyper: TrainHyperParams = {
  epochs: 2, augEpochs: 2, batchSize: 64, lr: 0.001, seed: 5, valSplit: 0.2, limit: 512, earlyStop: null, lrSchedule: { kind: 'constant' },
  optimizer: DEFAULT_OPTIMIZER, labelSmoothing: 0, tta: 'none', ema: null, distill: null,
};
const withoutSeconds = (rows: { seconds: number }[]) => rows.map(({ seconds: _s, ...rest }) => rest);
/** The data set, read once for every run of this file (each run would otherwise read and verify it again). */
let dataOnce: Promise<FashionMnist> | undefined;
const fashion = () => (dataOnce ??= loadFashionMnist());

test('a resumed run ends with the same history and test results as an uninterrupted one', { skip }, async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'fcnn-resume-'));
  const common = { model: 'cnn1', hyper, augmentation: ARTICLE_AUGMENTATION, backend: 'native' as const, data: await fashion(), pictures: false, progress: false, log: () => {} };
  const straight = await trainRun({ ...common, runDir: path.join(base, 'straight') });

  const interrupted = path.join(base, 'interrupted');
  class Interrupt extends Error {}
  await assert.rejects(
    trainRun({
      ...common,
      runDir: interrupted,
      // Dies at the end of epoch 3, before its checkpoint: the history never runs ahead of the checkpoint.
      callbacks: [{ onEpochEnd: (_c, row) => { if (row.epoch === 3) throw new Interrupt('simulated crash'); } }],
    }),
    Interrupt,
  );
  const lines = readFileSync(path.join(interrupted, 'history.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
  const resumed = await trainRun({ ...common, runDir: interrupted, resume: true });

  assert.equal(straight.history.length, 4);
  assert.deepEqual(withoutSeconds(resumed.history), withoutSeconds(straight.history));
  const fileRows = readFileSync(path.join(interrupted, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(withoutSeconds(fileRows), withoutSeconds(straight.history));
  assert.deepEqual(resumed.eval.results.map((r) => r.test_acc), straight.eval.results.map((r) => r.test_acc));
  assert.deepEqual(resumed.eval.results.map((r) => r.phase), ['base', 'augment']);
});

test('the same seed gives the same history; another seed a different one', { skip }, async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'fcnn-seed-'));
  const common = { model: 'cnn1', augmentation: ARTICLE_AUGMENTATION, backend: 'native' as const, data: await fashion(), pictures: false, progress: false, log: () => {} };
  const small = { ...hyper, epochs: 1, augEpochs: 1, limit: 256 };
  const a = await trainRun({ ...common, hyper: small, runDir: path.join(base, 'a') });
  const b = await trainRun({ ...common, hyper: small, runDir: path.join(base, 'b') });
  const c = await trainRun({ ...common, hyper: { ...small, seed: 6 }, runDir: path.join(base, 'c') });
  assert.deepEqual(withoutSeconds(a.history), withoutSeconds(b.history));
  assert.notDeepEqual(withoutSeconds(a.history), withoutSeconds(c.history));
});

test('--val-split 0 trains on every image: rows without validation, a record that says so, readable back; early stopping refused', { skip }, async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'fcnn-noval-'));
  const common = { model: 'cnn1', augmentation: ARTICLE_AUGMENTATION, backend: 'native' as const, data: await fashion(), pictures: false, progress: false, log: () => {} };
  const all = { ...hyper, epochs: 1, augEpochs: 1, limit: 300, valSplit: 0 };
  const run = await trainRun({ ...common, hyper: all, runDir: path.join(base, 'all') });
  assert.equal(run.config.data.trainCount, 300);
  assert.equal(run.config.data.valCount, 0);
  assert.equal(run.config.hyper.valSplit, 0);
  const rows = await readHistory(run.runDir);
  assert.equal(rows.length, 2);
  for (const row of rows) {
    assert.equal(row.val_loss, null);
    assert.equal(row.val_acc, null);
    assert.ok(Number.isFinite(row.loss) && row.acc! > 0);
  }
  assert.ok(run.eval.results.every((r) => r.test_acc! > 0.1), 'the test set is still evaluated');
  await assert.rejects(trainRun({ ...common, hyper: { ...all, earlyStop: 2 }, runDir: path.join(base, 'early') }), /--early-stop watches the validation loss/);
  await assert.rejects(trainRun({ ...common, hyper: { ...all, lrSchedule: { kind: 'plateau', patience: 2, factor: 0.5 } }, runDir: path.join(base, 'plateau') }), /plateau schedule watches the validation loss/);
});

test('`train --model cnn1 --epochs 1 --aug-epochs 1 --limit 4096` leaves every file of a run directory', { skip, timeout: 600_000 }, async () => {
  const runDir = path.join(mkdtempSync(path.join(tmpdir(), 'fcnn-cli-')), 'run');
  const r = await runCli(['train', '--model', 'cnn1', '--epochs', '1', '--aug-epochs', '1', '--limit', '4096', '--run-dir', runDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.history.length, 2);
  assert.match(r.stderr, /backend: /);
  for (const f of ['config.json', 'history.jsonl', 'eval.json', 'curves.svg', 'curves.png', 'confusion.png', 'correct.png', 'incorrect.png', 'activations.png', 'model/model.json', 'model/weights.bin', 'checkpoint/CURRENT']) {
    assert.ok(existsSync(path.join(runDir, f)), `${f} missing`);
  }
  const current = JSON.parse(readFileSync(path.join(runDir, 'checkpoint', 'CURRENT'), 'utf8'));
  for (const f of ['state.json', 'optimizer.json', 'optimizer.bin', 'model/model.json']) assert.ok(existsSync(path.join(runDir, 'checkpoint', current.dir, f)), `checkpoint ${f} missing`);
  assert.deepEqual(readdirSync(path.join(runDir, 'checkpoint')).sort(), ['CURRENT', current.dir].sort(), 'only the checkpoint in force is kept');
  const config = JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8'));
  assert.equal(config.model, 'cnn1');
  assert.equal(config.format, 2);
  assert.equal(config.hyper.limit, 4096);
  assert.equal(config.params.total, 693_962);
  const history = readFileSync(path.join(runDir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(history.map((h) => h.phase), ['base', 'augment']);
  for (const h of history) for (const k of ['loss', 'acc', 'val_loss', 'val_acc', 'seconds']) assert.equal(typeof h[k], 'number');
  const evalJson = JSON.parse(readFileSync(path.join(runDir, 'eval.json'), 'utf8'));
  assert.equal(evalJson.results.length, 2);
  assert.ok(evalJson.results[1].test_acc > 0.7, `test accuracy ${evalJson.results[1].test_acc}`);
  assert.equal(evalJson.results[1].confusion.flat().reduce((a: number, b: number) => a + b, 0), 10_000);
  assert.ok(!readdirSync(runDir).some((f) => f.includes('.tmp-') || f.includes('.new-')), 'no temp files left behind');

  const ev = await runCli(['evaluate', runDir, '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.ok(Math.abs(JSON.parse(ev.stdout).test_acc - evalJson.results[1].test_acc) < 1e-6);
});

test('no tensor or memory leak: tensor count and RSS are stable across epochs', { skip }, async () => {
  const tf = await import('@tensorflow/tfjs-core');
  const base = mkdtempSync(path.join(tmpdir(), 'fcnn-leak-'));
  const seen: { tensors: number; rss: number }[] = [];
  await trainRun({
    model: 'cnn3',
    hyper: { ...hyper, epochs: 3, augEpochs: 3, limit: 1024 },
    augmentation: ARTICLE_AUGMENTATION,
    data: await fashion(),
    runDir: path.join(base, 'run'),
    pictures: false,
    progress: false,
    log: () => {},
    callbacks: [{ onEpochEnd: () => { seen.push({ tensors: tf.memory().numTensors, rss: process.memoryUsage().rss }); } }],
  });
  assert.equal(seen.length, 6);
  // Epoch 1 creates the optimizer's state; from then on every epoch must free what it allocates.
  for (const s of seen.slice(2)) assert.equal(s.tensors, seen[1].tensors, `tensor counts per epoch: ${seen.map((x) => x.tensors).join(', ')}`);
  const growthMb = (seen[5].rss - seen[1].rss) / 2 ** 20;
  assert.ok(growthMb < 64, `RSS grew ${growthMb.toFixed(1)} MB over four epochs`);
});

test('train stops on SIGTERM mid-epoch, not at the epoch\'s end, and lets go of its lock', { skip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fashion-cnn-sigterm-'));
  const run = path.join(dir, 'run');
  // One epoch of about half a minute: the signal must not wait for it.
  const p = startCli(dir, ['train', '--model', 'best', '--limit', '12000', '--epochs', '1', '--aug-epochs', '0', '--batch-size', '64', '--no-pictures', '--run-dir', run]);
  try {
    await until(() => /step \d+\/\d+ /.test(p.output()), 60_000, 'training steps');
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    await p.exited;
    assert.equal(p.child.signalCode, 'SIGTERM', p.output());
    assert.ok(Date.now() - t0 < 5000, `stopped ${Date.now() - t0} ms after the signal`);
    assert.ok(!existsSync(path.join(run, 'train.lock')), 'the lock is released');
    assert.equal((await readHistory(run)).length, 0, 'no epoch was finished');
  } finally {
    p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
