/**
 * The `best` recipe's pieces: random crop, flip and erasing; the one-cycle schedule; SGD's weight
 * decay; test-time flip averaging; the recipe under the command line's flags; and old run records
 * read with the new fields' "off" values.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { ARTICLE_AUGMENTATION, ERASE_AREA, NO_AUGMENTATION, augmentBatch, eraseRectangle, hasAffine, shiftImage } from '../../src/train/augment.js';
import { LrScheduler, parseLrSchedule } from '../../src/train/lr-schedule.js';
import { makeOptimizer } from '../../src/train/optimizer.js';
import { ARTICLE_PROTOCOL, FINE_TUNE_LR, RECIPES, resolveProtocol } from '../../src/train/protocol.js';
import { predictBatch } from '../../src/models/tta.js';
import { readRunConfig } from '../../src/runs/index.js';
import { overridesFromFlags, type TrainingFlags } from '../../src/cli/commands/train.js';
import { Rng } from '../../src/util/rng.js';

await tf.setBackend('cpu');

const ramp = (rows: number, cols: number) => Float32Array.from({ length: rows * cols }, (_, i) => i + 1);

describe('random crop and flip', () => {
  it('shifts content by (dy, dx) with black coming in, and mirrors before shifting', () => {
    const img = ramp(3, 4); // rows: 1 2 3 4 / 5 6 7 8 / 9 10 11 12
    const a = img.slice();
    shiftImage(a, 0, 3, 4, 1, 0, false);
    assert.deepEqual([...a], [5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0]);
    const b = img.slice();
    shiftImage(b, 0, 3, 4, 0, -1, false);
    assert.deepEqual([...b], [0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11]);
    const c = img.slice();
    shiftImage(c, 0, 3, 4, 0, 0, true);
    assert.deepEqual([...c], [4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9]);
    const d = img.slice();
    shiftImage(d, 0, 3, 4, 0, 1, true);
    assert.deepEqual([...d], [0, 4, 3, 2, 0, 8, 7, 6, 0, 12, 11, 10]);
  });

  it('with every step off the batch is copied unchanged and nothing is drawn', () => {
    const x = ramp(28, 28);
    const rng = new Rng(3);
    const before = rng.getState();
    assert.equal(hasAffine(NO_AUGMENTATION), false);
    assert.deepEqual(augmentBatch(x, 1, 28, 28, NO_AUGMENTATION, rng), x);
    assert.deepEqual(rng.getState(), before);
    assert.equal(hasAffine(ARTICLE_AUGMENTATION), true);
  });

  it('crops stay within the padding, flips happen about half the time, and a seed repeats the batch', () => {
    const n = 400;
    // One bright pixel in the middle of each image: where it lands tells the shift and the flip.
    const x = new Float32Array(n * 28 * 28);
    for (let i = 0; i < n; i++) x[i * 784 + 14 * 28 + 10] = 1;
    const cfg = { ...NO_AUGMENTATION, cropPad: 2, flip: true };
    const out = augmentBatch(x, n, 28, 28, cfg, new Rng(7));
    let mirrored = 0;
    const dys = new Set<number>();
    for (let i = 0; i < n; i++) {
      const at = out.subarray(i * 784, (i + 1) * 784).indexOf(1);
      assert.ok(at >= 0, `image ${i} lost its pixel`);
      const r = Math.floor(at / 28), c = at % 28;
      dys.add(14 - r);
      assert.ok(Math.abs(14 - r) <= 2);
      const plain = Math.abs(c - 10) <= 2, flipped = Math.abs(c - 17) <= 2;
      assert.ok(plain || flipped, `column ${c}`);
      if (flipped) mirrored++;
    }
    assert.deepEqual([...dys].sort((a, b) => a - b), [-2, -1, 0, 1, 2]);
    assert.ok(mirrored > 150 && mirrored < 250, `${mirrored} of ${n} mirrored`);
    assert.deepEqual(augmentBatch(x, n, 28, 28, cfg, new Rng(7)), out);
  });
});

describe('random erasing', () => {
  it('fills one rectangle of 2-25% of the image with noise', () => {
    for (let seed = 0; seed < 50; seed++) {
      const img = new Float32Array(28 * 28).fill(-1);
      eraseRectangle(img, 0, 28, 28, new Rng(seed));
      const rowsHit: number[] = [], colsHit: number[] = [];
      let count = 0;
      img.forEach((v, i) => {
        if (v === -1) return;
        count++;
        assert.ok(v >= 0 && v < 1);
        rowsHit.push(Math.floor(i / 28));
        colsHit.push(i % 28);
      });
      const h = Math.max(...rowsHit) - Math.min(...rowsHit) + 1, w = Math.max(...colsHit) - Math.min(...colsHit) + 1;
      assert.equal(count, h * w, 'the erased pixels form a rectangle');
      // Rounding the sides moves the area a little beyond the drawn share.
      assert.ok(count >= ERASE_AREA.min * 784 * 0.5 && count <= ERASE_AREA.max * 784 * 1.5, `${count} pixels`);
    }
  });

  it('erases about as often as asked', () => {
    const n = 500;
    const out = augmentBatch(new Float32Array(n * 784).fill(-1), n, 28, 28, { ...NO_AUGMENTATION, erase: 0.3 }, new Rng(1));
    let erased = 0;
    for (let i = 0; i < n; i++) if (out.subarray(i * 784, (i + 1) * 784).some((v) => v !== -1)) erased++;
    assert.ok(erased > 110 && erased < 190, `${erased} of ${n}`);
  });
});

describe('one-cycle schedule', () => {
  it('rises linearly to the rate at the end of the warm-up and falls to 0 at the last step', () => {
    const s = new LrScheduler(parseLrSchedule('onecycle:0.25'), 0.4, 4);
    const steps = 10;
    assert.ok(Math.abs(s.rateAt(1, 5, steps) - 0.4 * (0.5 / 4) / 0.25) < 1e-12);
    assert.ok(Math.abs(s.rateAt(1, 10, steps) - 0.4) < 1e-12, 'peak after the first of four epochs');
    assert.ok(Math.abs(s.rateAt(3, 5, steps) - 0.4 * (1 - 2.5 / 4) / 0.75) < 1e-12);
    assert.equal(s.rateAt(4, 10, steps), 0);
    let prev = -1;
    for (let e = 1; e <= 4; e++) for (let k = 1; k <= steps; k++) {
      const r = s.rateAt(e, k, steps);
      if (e === 1) assert.ok(r > prev);
      prev = r;
    }
  });

  it('is set before every step through the callback', () => {
    const s = new LrScheduler(parseLrSchedule('onecycle'), 1, 2);
    const seen: number[] = [];
    const ctl = { model: null as never, stopPhase: false, getLearningRate: () => seen[seen.length - 1], setLearningRate: (lr: number) => seen.push(lr) };
    const info = { phase: 'augment' as const, epoch: 2, epochInPhase: 2, phaseEpochs: 2, steps: 4 };
    for (let k = 1; k <= 4; k++) s.onBatchBegin(ctl, k, info);
    // Epoch 2 of 2: t = (1 + k/4) / 2 of the run, past the warm-up, so the rate is (1 - t) / 0.75.
    assert.deepEqual(seen.map((v) => +v.toFixed(6)), [0.5, 0.333333, 0.166667, 0]);
  });

  it('refuses a warm-up of the whole run or more', () => {
    assert.throws(() => parseLrSchedule('onecycle:1'), /lr-schedule/);
    assert.throws(() => parseLrSchedule('onecycle:0.2:3'), /lr-schedule/);
    assert.deepEqual(parseLrSchedule('onecycle'), { kind: 'onecycle', warmup: 0.25 });
  });
});

describe('SGD weight decay', () => {
  it('shrinks kernels by lr x decay before the momentum step and leaves biases alone', () => {
    const kernel = tf.variable(tf.tensor2d([[1, -2], [3, 4]]), true, 'wd_kernel');
    const bias = tf.variable(tf.tensor1d([1, 1]), true, 'wd_bias');
    const opt = makeOptimizer({ kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.01 }, 0.5);
    opt.applyGradients({ wd_kernel: tf.zerosLike(kernel), wd_bias: tf.zerosLike(bias) });
    assert.deepEqual([...kernel.dataSync()].map((v) => +v.toFixed(6)), [0.995, -1.99, 2.985, 3.98]);
    assert.deepEqual([...bias.dataSync()], [1, 1]);
  });
});

describe('test-time flip', () => {
  it('averages the softmax of the image and of its mirror', () => {
    const model = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [2, 3, 1] }), tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'glorotUniform' })] });
    const x = tf.tensor4d([0.1, 0.9, 0.3, 0.5, 0.2, 0.7], [1, 2, 3, 1]);
    const mirror = tf.tensor4d([0.3, 0.9, 0.1, 0.7, 0.2, 0.5], [1, 2, 3, 1]);
    const a = (model.predict(x) as tf.Tensor).dataSync(), b = (model.predict(mirror) as tf.Tensor).dataSync();
    const avg = predictBatch(model, x, 'flip').dataSync();
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(avg[i] - (a[i] + b[i]) / 2) < 1e-6);
    assert.ok(Math.abs(a[0] - b[0]) > 1e-6, 'the mirror gives another prediction (else the test shows nothing)');
    assert.deepEqual([...predictBatch(model, x, 'none').dataSync()], [...a]);
  });
});

describe('the best recipe under the flags', () => {
  const flags: TrainingFlags = {
    epochs: 10, augEpochs: 50, batchSize: 256, lr: 0.001, seed: 13, valSplit: 0.2, labelSmoothing: 0, lrSchedule: 'constant', optimizer: 'adam',
    shearUnit: 'degrees', interpolation: 'nearest', affine: 'article', cropPad: 0, erase: 0, photo: 0, tta: 'none', verify: true,
  };
  const apply = (f: TrainingFlags, given: string[]) => resolveProtocol('best', overridesFromFlags(f, (k) => given.includes(k)));

  it('fills every setting the command line does not give', () => {
    const { hyper, augmentation } = apply(flags, []);
    assert.deepEqual(hyper.optimizer, RECIPES.best.hyper.optimizer);
    assert.equal(hyper.epochs, 0);
    assert.equal(hyper.augEpochs, RECIPES.best.hyper.augEpochs);
    assert.equal(hyper.tta, 'flip');
    assert.equal(hyper.seed, 13);
    assert.equal(hasAffine(augmentation), false);
    assert.equal(augmentation.flip, true);
    assert.ok(augmentation.cropPad > 0);
    assert.equal(augmentation.erase, 0, 'erasing was dropped from the recipe on validation');
  });

  it('lets each given flag win', () => {
    const { hyper, augmentation } = apply({ ...flags, augEpochs: 3, erase: 0.3, photo: 0.5, affine: 'article', flip: false, optimizer: 'adamw', lr: 0.002 }, ['augEpochs', 'erase', 'photo', 'affine', 'flip', 'optimizer', 'lr']);
    assert.equal(hyper.augEpochs, 3);
    assert.equal(hyper.lr, 0.002);
    assert.equal(hyper.optimizer.kind, 'adamw');
    assert.equal(hyper.labelSmoothing, 0.1, 'not given: the recipe\'s');
    assert.equal(augmentation.erase, 0.3);
    assert.equal(augmentation.photo, 0.5);
    assert.equal(augmentation.flip, false);
    assert.equal(augmentation.rotationDeg, ARTICLE_AUGMENTATION.rotationDeg);
    assert.equal(augmentation.cropPad, RECIPES.best.augmentation.cropPad);
  });

  it('without a recipe, and with no flag given, is the article\'s protocol', () => {
    assert.deepEqual(resolveProtocol('cnn1', overridesFromFlags(flags, () => false)), ARTICLE_PROTOCOL);
    assert.deepEqual(resolveProtocol('best', {}, { recipe: false }), ARTICLE_PROTOCOL);
    assert.deepEqual(ARTICLE_PROTOCOL.augmentation, ARTICLE_AUGMENTATION);
  });

  it('fine-tunes at FINE_TUNE_LR unless a rate is given, and refuses a protocol with nothing to train', () => {
    assert.equal(resolveProtocol('vgg19', {}, { fineTune: true }).hyper.lr, FINE_TUNE_LR);
    assert.equal(resolveProtocol('vgg19', { hyper: { lr: 0.01 } }, { fineTune: true }).hyper.lr, 0.01);
    assert.throws(() => resolveProtocol('best', { hyper: { augEpochs: 0 } }), /nothing to train/);
  });
});

describe('run records from before the recipe', () => {
  it('read with test-time augmentation, crops, flips, erasing and SGD weight decay off', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fcnn-recipe-'));
    const { cropPad: _c, flip: _f, erase: _e, photo: _p, ...oldAugmentation } = ARTICLE_AUGMENTATION;
    const config = {
      model: 'cnn1',
      hyper: { epochs: 1, augEpochs: 0, batchSize: 256, lr: 0.001, seed: 1, valSplit: 0.2, limit: null, optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false } },
      augmentation: oldAugmentation,
    };
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
    const read = await readRunConfig(dir);
    assert.equal(read.hyper.tta, 'none');
    assert.deepEqual(read.hyper.optimizer, { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 });
    assert.deepEqual(read.augmentation, ARTICLE_AUGMENTATION);
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, hyper: { ...config.hyper, tta: 'rotate' } }));
    await assert.rejects(readRunConfig(dir), /"hyper.tta" is not "none" or "flip"/);
    await fs.rm(dir, { recursive: true });
  });
});
