/** Distillation's loss and targets (src/train/distill.ts), against the formulas computed by hand. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { distillationLoss, packTargets, soften, unpackTargets } from '../../src/train/distill.js';

const softmax = (z: number[], t = 1) => {
  const e = z.map((v) => Math.exp(v / t - Math.max(...z) / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < tol, `[${i}] ${a[i]} vs ${b[i]}`);
};

const logits = [
  [2.0, -1.0, 0.5, 3.0],
  [-0.3, 0.2, 1.7, -2.2],
];
const teacherLogits = [
  [1.0, 0.0, 0.2, 2.5],
  [0.1, -0.5, 2.2, -1.0],
];
const labels = [3, 1];

describe('distillation', () => {
  it("softens probabilities as softmax(logits / T) would, from the probabilities alone", async () => {
    await tf.setBackend('cpu');
    const probs = tf.tensor2d(logits.map((z) => softmax(z)));
    close(soften(probs, 4).dataSync(), logits.flatMap((z) => softmax(z, 4)), 1e-6);
    close(soften(probs, 1).dataSync(), probs.dataSync(), 1e-6);
  });

  it('packs the labels and the soft targets into one tensor and back', async () => {
    await tf.setBackend('cpu');
    const oneHot = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 4), 'float32') as tf.Tensor2D;
    const soft = tf.tensor2d(teacherLogits.map((z) => softmax(z, 3)));
    const packed = packTargets(oneHot, soft);
    const back = unpackTargets(packed);
    assert.deepEqual(Array.from(back.oneHot.dataSync()), Array.from(oneHot.dataSync()));
    close(back.soft.dataSync(), soft.dataSync(), 3e-7);
    // The accuracy metric takes argmax of the targets: it is the label.
    assert.deepEqual(Array.from(tf.argMax(packed, -1).dataSync()), labels);
  });

  it('is (1 - w) CE(labels) + w T^2 KL(teacher_T || student_T)', async () => {
    await tf.setBackend('cpu');
    const T = 3, w = 0.7;
    const p = logits.map((z) => softmax(z));
    const q = teacherLogits.map((z) => softmax(z, T));
    const oneHot = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 4), 'float32') as tf.Tensor2D;
    const loss = distillationLoss({ temperature: T, weight: w }, 0)(packTargets(oneHot, tf.tensor2d(q)), tf.tensor2d(p));
    const expected = p.map((row, i) => {
      const pt = softmax(logits[i], T);
      const ce = -Math.log(row[labels[i]]);
      const kl = q[i].reduce((a, qi, k) => a + qi * Math.log(qi / pt[k]), 0);
      return (1 - w) * ce + w * T * T * kl;
    });
    close(loss.dataSync(), expected, 1e-5);
  });

  it("pulls the student's logits by w T (p_T - q_T) besides the labels' term", async () => {
    await tf.setBackend('cpu');
    const T = 4, w = 1;
    const q = tf.tensor2d(teacherLogits.map((z) => softmax(z, T)));
    const oneHot = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 4), 'float32') as tf.Tensor2D;
    const fn = distillationLoss({ temperature: T, weight: w }, 0.1);
    const grad = tf.grad((z: tf.Tensor) => tf.sum(fn(packTargets(oneHot, q), tf.softmax(z))))(tf.tensor2d(logits));
    const expected = logits.flatMap((z, i) => softmax(z, T).map((pt, k) => w * T * (pt - q.arraySync()[i][k])));
    close(grad.dataSync(), expected, 1e-5);
  });
});
