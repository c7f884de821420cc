import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confusionMatrix, evaluationFromProbs, lossAndAccuracy, perClassMetrics } from '../../src/evaluate/metrics.js';
import { LrScheduler, parseLrSchedule } from '../../src/train/lr-schedule.js';
import { EarlyStopping, type TrainControl } from '../../src/train/callbacks.js';
import type { HistoryRow } from '../../src/runs/index.js';

test('loss and accuracy of softmax outputs', () => {
  const probs = new Float32Array([0.9, 0.1, 0.2, 0.8, 0.6, 0.4]);
  const { loss, acc } = lossAndAccuracy(probs, new Uint8Array([0, 1, 1]), 2);
  assert.ok(Math.abs(loss - -(Math.log(0.9) + Math.log(0.8) + Math.log(0.4)) / 3) < 1e-6);
  assert.ok(Math.abs(acc - 2 / 3) < 1e-12);
});

test('per-class precision, recall and F1 from a confusion matrix', () => {
  const m = confusionMatrix(new Uint8Array([0, 0, 0, 1, 1, 2]), new Uint8Array([0, 0, 1, 1, 2, 2]), 3);
  assert.deepEqual(m, [[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
  const pc = perClassMetrics(m);
  assert.equal(pc[0].precision, 1);
  assert.ok(Math.abs(pc[0].recall - 2 / 3) < 1e-12);
  assert.ok(Math.abs(pc[1].f1 - 0.5) < 1e-12);
  assert.equal(pc[2].support, 1);
});

test('an evaluation has a 10x10 confusion matrix that sums to the count', () => {
  const n = 50;
  const probs = new Float32Array(n * 10);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    probs[i * 10 + ((i * 7) % 10)] = 1;
  }
  const r = evaluationFromProbs(probs, labels, { phase: 'base', epoch: 1 });
  assert.equal(r.confusion.length, 10);
  assert.equal(r.confusion.flat().reduce((a, b) => a + b, 0), n);
  assert.equal(r.per_class.length, 10);
});

const row = (val_loss: number): HistoryRow => ({ phase: 'base', epoch: 1, loss: 0, acc: 0, val_loss, val_acc: 0, seconds: 0, lr: 0 });
const ctl = (): TrainControl => {
  let lr = 0.001;
  return { model: null as never, stopPhase: false, getLearningRate: () => lr, setLearningRate: (v) => (lr = v) };
};

test('early stopping ends a phase after PATIENCE epochs without improvement', () => {
  const es = new EarlyStopping(2);
  const c = ctl();
  es.onPhaseBegin();
  for (const v of [1, 0.9, 0.95]) es.onEpochEnd(c, row(v));
  assert.equal(c.stopPhase, false);
  es.onEpochEnd(c, row(0.93));
  assert.equal(c.stopPhase, true);
});

test('learning-rate schedules', () => {
  assert.throws(() => parseLrSchedule('bogus'), /lr-schedule/);
  assert.throws(() => parseLrSchedule('step:0:0.5'), /lr-schedule/);
  const step = new LrScheduler(parseLrSchedule('step:2:0.5'), 0.01, 6);
  assert.deepEqual([1, 2, 3, 4, 5].map((e) => step.rateFor(e)), [0.01, 0.01, 0.005, 0.005, 0.0025]);
  const cos = new LrScheduler(parseLrSchedule('cosine:0.0001'), 0.001, 11);
  assert.ok(Math.abs(cos.rateFor(1) - 0.001) < 1e-12 && Math.abs(cos.rateFor(11) - 0.0001) < 1e-12);
  const plateau = new LrScheduler(parseLrSchedule('plateau:1:0.5'), 0.001, 10);
  const c = ctl();
  plateau.onEpochEnd(c, row(1));
  plateau.onEpochEnd(c, row(1.1));
  assert.equal(plateau.rateFor(3), 0.0005);
});
