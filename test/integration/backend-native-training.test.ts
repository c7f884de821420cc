/**
 * End to end on the native backend: the unchanged tfjs-layers models train to the same losses as
 * on wasm (same seeds: same weights, same dropout masks), bit-exact where the arithmetic is, and
 * repeated steps leak no tensors and no heap.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { buildModel, requireModelSpec } from '../../src/models/build.js';
import { nativeContext } from '../../src/backend/native/index.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';
import { nativeSkip, requireNative, startNative } from '../helpers/native.js';

const reason = await startNative();
const skip = nativeSkip(reason);
if (skip) console.log(`# skipping native-backend training tests: ${skip}`);

function batch(seed: string, size: number): { x: tf.Tensor; y: tf.Tensor } {
  const rng = new Rng(seed);
  const pixels = new Float32Array(size * 28 * 28).map(() => rng.next());
  const labels = Array.from({ length: size }, () => rng.int(10));
  return tf.tidy(() => ({ x: tf.tensor4d(pixels, [size, 28, 28, 1]), y: tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 'float32') }));
}

/** Losses of `steps` seeded training steps of a fresh model on one backend. */
async function losses(backend: string, model: string, steps: number, size: number): Promise<number[]> {
  await tf.setBackend(backend);
  const rng = new Rng(`train-${model}`);
  const net = await withSeededMathRandom(rng, () => buildModel(requireModelSpec(model)));
  net.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { x, y } = batch(`${model}-${s}`, size);
    out.push((await withSeededMathRandom(rng, () => net.trainOnBatch(x, y))) as number);
    tf.dispose([x, y]);
  }
  net.dispose();
  return out;
}

describe('training on the native backend', { skip }, () => {
  before(requireNative);

  // Relative tolerance of the losses after the first step. The first loss (same weights, same
  // dropout masks) agrees to float rounding. Later ones can drift further: Adam's first updates
  // are about lr * sign(gradient), so gradient entries that are zero up to rounding (they occur
  // with batch norm) move by a full learning rate in a backend-dependent direction.
  const tolerance: Record<string, number> = { cnn1: 1e-4, cnn3: 1e-4, cnn4: 1e-2 };
  for (const model of ['cnn1', 'cnn3', 'cnn4']) {
    it(`${model}: a short seeded training gives the same losses on native and wasm`, async () => {
      const native = await losses('native', model, 4, 32);
      const wasm = await losses('wasm', model, 4, 32);
      native.forEach((l, i) => {
        assert.ok(Number.isFinite(l), `${model} step ${i}: loss ${l}`);
        const rtol = i === 0 ? 1e-5 : tolerance[model];
        assert.ok(Math.abs(l - wasm[i]) <= rtol * Math.abs(wasm[i]), `${model} step ${i}: native loss ${l}, wasm ${wasm[i]}`);
      });
      assert.ok(native[3] !== native[0], 'the model learns');
    });
  }

  it('repeated training steps leak no tensors and no wasm heap', async () => {
    await tf.setBackend('native');
    const rng = new Rng('leak');
    const net = await withSeededMathRandom(rng, () => buildModel(requireModelSpec('cnn4')));
    net.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const { x, y } = batch('leak', 32);
    const heap = () => (nativeContext()!.backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer.byteLength;
    const step = () => withSeededMathRandom(rng, () => net.trainOnBatch(x, y));
    for (let i = 0; i < 3; i++) await step(); // optimizer state and primitive caches settle
    const before = { ...tf.memory(), heap: heap() };
    for (let i = 0; i < 8; i++) await step();
    const after = { ...tf.memory(), heap: heap() };
    assert.equal(after.numTensors, before.numTensors, 'tensor count');
    assert.equal(after.numBytes, before.numBytes, 'tensor bytes');
    assert.equal(after.heap, before.heap, 'wasm heap size');
    tf.dispose([x, y]);
    net.dispose();
  });
});

describe('native training helpers reproduce TF.js exactly', { skip }, () => {
  before(requireNative);
  const core = createRequire(import.meta.url)('@tensorflow/tfjs-core') as { dropout: typeof tf.dropout };

  it('dropout draws the same mask as on wasm and cpu (bit for bit)', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.randomNormal([16, 13, 13, 32], 0, 1, 'float32', 3);
        return Array.from(withSeededMathRandom(new Rng('dropout'), () => core.dropout(x, 0.25)).dataSync());
      });
    };
    const native = await run('native');
    assert.deepEqual(native, await run('wasm'));
    assert.deepEqual(native, await run('cpu'));
    const kept = native.filter((v) => v !== 0).length / native.length;
    assert.ok(Math.abs(kept - 0.75) < 0.01, `kept fraction ${kept}`);
  });

  it('the fused Adam update equals TF.js\'s AdamOptimizer on wasm (bit for bit)', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const v = tf.variable(tf.randomNormal([300, 40], 0, 1, 'float32', 7));
      const opt = tf.train.adam(0.002);
      for (let s = 0; s < 4; s++) {
        const g = tf.randomNormal([300, 40], 0, 1, 'float32', 10 + s);
        opt.applyGradients([{ name: v.name, tensor: g }]);
        g.dispose();
      }
      const out = Array.from(v.dataSync());
      v.dispose();
      opt.dispose();
      return out;
    };
    assert.deepEqual(await run('native'), await run('wasm'));
  });
});
