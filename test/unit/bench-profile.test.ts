/**
 * `bench --profile`: the per-kernel profile of training steps, from the native backend's kernel
 * accounting (runs, wasm hand-overs, exclusive time).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { nativeKernelRuns } from '../../src/backend/index.js';
import type { KernelRuns } from '../../src/backend/native/context.js';
import { deferredFillName } from '../../src/backend/native/context.js';
import { CONV_RECIPE } from '../../src/backend/native/kernels/conv.js';
import { kernelProfile, profileMarkdown } from '../../src/bench/profile.js';
import { nativeSkip, requireNative, startNative } from '../helpers/native.js';

const runs = (entries: [string, number, number, number][]) => new Map<string, KernelRuns>(entries.map(([k, r, w, ms]) => [k, { runs: r, wasm: w, ms }]));

describe('kernelProfile', () => {
  it('gives what ran between two snapshots, per step, the slowest first', () => {
    const before = runs([['Conv2D', 10, 0, 100], ['Add', 4, 0, 4], ['Idle', 3, 0, 1]]);
    const after = runs([['Conv2D', 14, 0, 180], ['Add', 8, 0, 6], ['Idle', 3, 0, 1], ['Softmax', 2, 2, 10]]);
    const p = kernelProfile(before, after, 2, 60);
    assert.deepEqual(p.kernels, [
      { kernel: 'Conv2D', runsPerStep: 2, msPerStep: 40, wasmPerStep: 0 },
      { kernel: 'Softmax', runsPerStep: 1, msPerStep: 5, wasmPerStep: 1 },
      { kernel: 'Add', runsPerStep: 2, msPerStep: 1, wasmPerStep: 0 },
    ]);
    assert.throws(() => kernelProfile(before, after, 0, 60), /at least one step/);
  });

  it('the table shares the step among the kernels, the rest and the time outside kernels', () => {
    const p = kernelProfile(runs([]), runs([['Conv2D', 2, 0, 80], ['Add', 2, 0, 10], ['Softmax', 1, 1, 5]]), 1, 100);
    const md = profileMarkdown('cnn1 on native, training', p, 2);
    assert.match(md, /100\.0 ms per step \(mean of 1\); kernels 95\.0 ms/);
    assert.match(md, /\| Conv2D \| 2 \| 80\.00 \| 80\.0% \| {2}\|/);
    assert.match(md, /\| 1 other kernels \| 1 \| 5\.00 \| 5\.0% \| 1 \|/);
    assert.match(md, /\| outside kernels \(TF\.js, tape, JavaScript\) \| \| 5\.00 \| 5\.0% \| \|/);
  });
});

const reason = await startNative();
const skip = nativeSkip(reason);

describe('the native backend accounts for each kernel it runs', { skip }, () => {
  it('counts runs and exclusive time; a deferred convolution\'s fill is timed apart from the kernel that reads it', async () => {
    await requireNative();
    await tf.setBackend('native');
    const x = tf.randomUniform([16, 28, 28, 8]);
    const w = tf.randomUniform([3, 3, 8, 16]);
    const before = nativeKernelRuns()!;
    const y = tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 1, pad: 'same', activation: 'relu' });
    const pooled = tf.maxPool(y, 2, 2, 'valid');
    const sum = tf.add(y, y);
    await sum.data();
    const p = kernelProfile(before, nativeKernelRuns()!, 1, 1);
    const by = new Map(p.kernels.map((k) => [k.kernel, k]));
    assert.equal(by.get('FusedConv2D')?.runsPerStep, 1, JSON.stringify(p.kernels));
    assert.equal(by.get('MaxPool')?.runsPerStep, 1);
    assert.equal(by.get('Add')?.runsPerStep, 1);
    // The convolution was deferred (a pooling could have taken it whole); Add read it, so it was filled then.
    const fill = by.get(deferredFillName(CONV_RECIPE));
    assert.equal(fill?.runsPerStep, 1, JSON.stringify(p.kernels));
    assert.ok(fill.msPerStep > 0);
    for (const k of p.kernels) {
      assert.ok(k.msPerStep >= 0, `${k.kernel}: exclusive time ${k.msPerStep}`);
      assert.equal(k.wasmPerStep, 0, `${k.kernel} ran on wasm`);
    }
    tf.dispose([x, w, y, pooled, sum]);
  });
});
