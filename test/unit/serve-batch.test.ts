/**
 * The server's batched model work (src/serve/batcher.ts, explain/saliency's topClassSaliency) on
 * the shipped default model: a frame classified in a batch gets what it gets alone (probabilities,
 * top class, saliency map), the saliency map is the gradient of the top class's probability
 * (against saliencyMap, the one-image reference, and against finite differences), and uploads
 * queued in the same turn of the event loop share one forward/backward pass.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/backend/index.js';
import { saliencyMap, topClassSaliency } from '../../src/explain/saliency.js';
import { predictFrames, topK } from '../../src/predict/index.js';
import { preprocessImage } from '../../src/predict/photo.js';
import { loadRunModel } from '../../src/runs/index.js';
import { ModelBatcher, type ModelAsk } from '../../src/serve/batcher.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { GARMENT_SHAPES, simplePhoto } from '../helpers/predict-fixtures.js';
import sharp from 'sharp';

let model: tfl.LayersModel;
const frames: Float32Array[] = [];

/** Garment-like shapes of different sizes, places and colours on different backgrounds: different frames and answers. */
async function photos(): Promise<Buffer[]> {
  const shapes = GARMENT_SHAPES;
  const pages = ['#f2efe8', '#ffffff', '#dcdcdc'];
  const out: Buffer[] = [await simplePhoto('jpeg', 224, 224)];
  shapes.forEach((shape, i) => out.push(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="224" height="224"><rect width="100%" height="100%" fill="${pages[i % pages.length]}"/>${shape}</svg>`)));
  return Promise.all(out.map((b, i) => (i === 0 ? b : sharp(b).jpeg().toBuffer())));
}

before(async () => {
  // One oneDNN thread, as the server runs its model (serve/config.ts inferenceThreads).
  process.env.FASHION_CNN_THREADS ??= '1';
  await initBackend();
  model = (await loadRunModel(path.join(REPO_ROOT, 'models', 'default'))).model;
  for (const photo of await photos()) frames.push((await preprocessImage(photo)).pixels);
});

after(() => model?.dispose());

const maxDiff = (a: ArrayLike<number> | null, b: ArrayLike<number> | null) => {
  assert.ok(b, 'values to compare');
  assert.ok(a, 'values to compare');
  return Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
};

describe('topClassSaliency', () => {
  test('a batch gives each frame what it gets alone, and what predict and saliencyMap give', () => {
    const batched = topClassSaliency(model, frames);
    assert.equal(batched.length, frames.length);
    assert.ok(new Set(batched.map((b) => b.top)).size >= 2, 'the test frames are classified differently');
    frames.forEach((frame, i) => {
      const alone = topClassSaliency(model, [frame])[0];
      assert.equal(batched[i].top, alone.top, `frame ${i}: top class`);
      assert.ok(maxDiff(batched[i].probs, alone.probs) < 1e-5, `frame ${i}: probabilities`);
      assert.ok(maxDiff(batched[i].saliency, alone.saliency) < 1e-4, `frame ${i}: saliency`);
      // The reference: predict's probabilities (inference kernels) and the one-image gradient.
      const probs = predictFrames(model, [frame])[0];
      assert.ok(maxDiff(batched[i].probs, probs) < 1e-5, `frame ${i}: probabilities against predict`);
      assert.equal(batched[i].top, topK(probs, 1)[0].class, `frame ${i}: top class against predict`);
      assert.ok(maxDiff(batched[i].saliency, saliencyMap(model, frame, batched[i].top)) < 1e-4, `frame ${i}: saliency against saliencyMap`);
    });
  });

  /**
   * The reference saliency: |d sum(probs · pick) / d pixel| by tfjs's own autodiff on its
   * pure-JavaScript cpu backend, scaled to its maximum; `probsOf` is the model's answer to a frame
   * (with or without the mirror). (Finite differences are no reference here: at a pixel's scale the
   * ReLUs and max poolings of this network switch, and slopes measured over 0.001 of the grey range
   * still miss by a fifth.)
   */
  async function cpuSaliency(frame: Float32Array, top: number, probsOf: (x: tf.Tensor) => tf.Tensor): Promise<Float32Array> {
    const served = tf.getBackend();
    await tf.setBackend('cpu');
    try {
      const grad = tf.tidy(() => {
        const pick = tf.tensor2d(Array.from({ length: 10 }, (_, c) => (c === top ? 1 : 0)), [1, 10]);
        return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(probsOf(x), pick)))(tf.tensor4d(frame, [1, 28, 28, 1])).dataSync() as Float32Array;
      });
      const max = grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(max > 0, 'a gradient');
      return grad.map((v) => Math.abs(v) / max);
    } finally {
      await tf.setBackend(served);
    }
  }
  const apply = (x: tf.Tensor) => model.apply(x, { training: false }) as tf.Tensor;

  /**
   * The two backends agree up to the choice of subgradient: where a max pooling's window holds
   * equal values (zeros after a ReLU), oneDNN and the cpu backend route the gradient to different
   * inputs, which moves single pixels by a few hundredths. So: the same map in direction (cosine
   * at least 0.99; the map of another class scores about 0.6) and no pixel off by 0.15 or more.
   */
  function assertSameSaliency(actual: Float32Array | null, expected: Float32Array, label: string): void {
    assert.ok(actual, `${label}: a saliency map`);
    let dot = 0, aa = 0, ee = 0;
    for (let k = 0; k < expected.length; k++) {
      dot += actual[k] * expected[k];
      aa += actual[k] ** 2;
      ee += expected[k] ** 2;
    }
    const cosine = dot / Math.sqrt(aa * ee);
    assert.ok(cosine >= 0.99, `${label}: cosine ${cosine} with the cpu backend's map`);
    assert.ok(maxDiff(actual, expected) < 0.15, `${label}: off by ${maxDiff(actual, expected)}`);
  }

  test("the saliency map is |d prob[top] / d pixel| as TF.js's reference backend computes it, scaled to its maximum", async () => {
    const answers = topClassSaliency(model, frames);
    for (const [i, frame] of frames.entries()) {
      assertSameSaliency(answers[i].saliency, await cpuSaliency(frame, answers[i].top, apply), `frame ${i}`);
      // And not the map of another class (a few frames: each reference gradient takes the cpu backend a third of a second).
      if (i >= 3) continue;
      const other = await cpuSaliency(frame, (answers[i].top + 1) % 10, apply);
      assert.throws(() => assertSameSaliency(answers[i].saliency, other, `frame ${i}, another class`));
    }
  });

  test("with tta 'flip': predict's averaged probabilities, and the gradient of that average on the cpu backend", async () => {
    const flipped = topClassSaliency(model, frames, 'flip');
    const plain = topClassSaliency(model, frames);
    const averaged = predictFrames(model, frames, 'average');
    assert.ok(frames.some((_, i) => maxDiff(flipped[i].probs, plain[i].probs) > 1e-3), 'the mirror changes some probabilities');
    for (const [i, frame] of frames.entries()) {
      assert.ok(maxDiff(flipped[i].probs, averaged[i]) < 1e-5, `frame ${i}: probabilities against predict's mirror average`);
      assert.equal(flipped[i].top, topK(averaged[i], 1)[0].class, `frame ${i}: top class`);
      // The reference gradient of the mirror average (two passes on the cpu backend) for a few frames.
      if (i >= 4) continue;
      assertSameSaliency(flipped[i].saliency, await cpuSaliency(frame, flipped[i].top, (x) => tf.mul(tf.add(apply(x), apply(tf.reverse(x, 2))), 0.5)), `frame ${i}, mirror average`);
    }
  });

  test('no tensors are left behind, with or without the mirror and the saliency map', () => {
    const all = () => {
      for (const tta of ['none', 'flip'] as const) {
        for (const withSaliency of [true, false]) {
          topClassSaliency(model, frames, tta, withSaliency);
          topClassSaliency(model, frames.slice(0, 1), tta, withSaliency);
        }
      }
    };
    all();
    const before = tf.memory().numTensors;
    all();
    all();
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('ModelBatcher', () => {
  test('frames queued in one turn of the event loop share a batch, and each gets its own answer', async () => {
    const batcher = new ModelBatcher({ maxBatch: 16, windowMs: 0 });
    const answers = await Promise.all(frames.map((f) => batcher.classify(model, f)));
    assert.deepEqual(batcher.stats, { batches: 1, frames: frames.length, largest: frames.length });
    answers.forEach((a, i) => {
      const alone = topClassSaliency(model, [frames[i]])[0];
      assert.equal(a.top, alone.top);
      assert.ok(maxDiff(a.probs, alone.probs) < 1e-5);
      assert.ok(maxDiff(a.saliency, alone.saliency) < 1e-4);
    });
  });

  test('at most maxBatch frames per pass; the rest follow in order', async () => {
    const sizes: number[] = [];
    const batcher = new ModelBatcher({ maxBatch: 3, windowMs: 0 }, (m, fs) => {
      sizes.push(fs.length);
      return topClassSaliency(m, fs);
    });
    const answers = await Promise.all(frames.map((f) => batcher.classify(model, f)));
    assert.deepEqual(sizes, [3, 3, 1]);
    answers.forEach((a, i) => assert.equal(a.top, topClassSaliency(model, [frames[i]])[0].top));
  });

  test("a batch holds one ask: tta 'flip' or 'none', with or without saliency, each in its own pass and answered its way", async () => {
    const passes: string[] = [];
    const batcher = new ModelBatcher({ maxBatch: 16, windowMs: 0 }, (m, fs, tta, withSaliency) => {
      passes.push(`${tta}/${withSaliency}:${fs.length}`);
      return topClassSaliency(m, fs, tta, withSaliency);
    });
    const asks: ModelAsk[] = frames.map((_, i) => ({ tta: i % 2 === 0 ? 'flip' : 'none', saliency: i % 3 !== 0 }));
    const answers = await Promise.all(frames.map((f, i) => batcher.classify(model, f, asks[i])));
    const expectedPasses: string[] = [];
    for (const ask of asks) {
      const key = `${ask.tta}/${ask.saliency}`;
      if (!expectedPasses.some((p) => p.startsWith(`${key}:`))) expectedPasses.push(`${key}:${asks.filter((a) => a.tta === ask.tta && a.saliency === ask.saliency).length}`);
    }
    assert.deepEqual(passes, expectedPasses);
    answers.forEach((a, i) => {
      const alone = topClassSaliency(model, [frames[i]], asks[i].tta)[0];
      assert.ok(maxDiff(a.probs, alone.probs) < 1e-5, `frame ${i}: probabilities`);
      assert.equal(a.top, alone.top);
      if (asks[i].saliency) assert.ok(maxDiff(a.saliency, alone.saliency) < 1e-4, `frame ${i}: saliency`);
      else assert.equal(a.saliency, null, `frame ${i}: no saliency asked, none computed`);
    });
  });

  test('a failing pass rejects its own requests only', async () => {
    let calls = 0;
    const batcher = new ModelBatcher({ maxBatch: 2, windowMs: 0 }, (m, fs) => {
      if (calls++ === 0) throw new Error('boom');
      return topClassSaliency(m, fs);
    });
    const results = await Promise.allSettled(frames.slice(0, 3).map((f) => batcher.classify(model, f)));
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'fulfilled']);
  });
});
