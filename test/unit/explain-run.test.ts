import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { CLASS_NAMES, FASHION_SHAPE, PIXELS, type Examples } from '../../src/data/types.js';
import type { EvalResult } from '../../src/evaluate/types.js';
import { writeRunPictures, type Prediction } from '../../src/explain/index.js';
import { RUN_FILES, type HistoryRow } from '../../src/runs/index.js';
import { Rng } from '../../src/util/rng.js';

before(async () => {
  await tfc.setBackend('cpu');
});

function fixtures() {
  const rng = new Rng('run-pictures');
  const count = 50;
  const x = Float32Array.from({ length: count * PIXELS }, () => rng.next());
  const y = Uint8Array.from({ length: count }, (_, i) => i % 10);
  const test: Examples = { x, y, count, indices: Uint32Array.from({ length: count }, (_, i) => i), shape: FASHION_SHAPE };
  const predictions: Prediction[] = Array.from(y, (label, i) => (i % 5 === 0 ? { label: (label + 1) % 10, prob: 0.5 } : { label, prob: 0.95 }));
  const confusion = CLASS_NAMES.map(() => CLASS_NAMES.map(() => 0));
  predictions.forEach((p, i) => confusion[y[i]][p.label]++);
  const evalResult: EvalResult = { phase: 'augment', epoch: 3, test_loss: 0.3, test_acc: 0.8, per_class: [], macro_f1: 0.8, confusion, count };
  const history: HistoryRow[] = [1, 2, 3].map((epoch) => ({
    phase: epoch <= 2 ? 'base' : 'augment', epoch, loss: 1 / epoch, acc: 0.5 + epoch / 10, val_loss: 1.1 / epoch, val_acc: 0.45 + epoch / 10, seconds: 1, lr: 0.001,
  }));
  const model = tfl.sequential({ name: 'tiny' });
  model.add(tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, activation: 'relu' }));
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  return { test, predictions, evalResult, history, model };
}

test('writeRunPictures writes every picture under its RUN_FILES name, atomically and reproducibly', async () => {
  const { test: testSet, predictions, evalResult, history, model } = fixtures();
  const dirs = await Promise.all([0, 1, 2].map(() => mkdtemp(path.join(tmpdir(), 'explain-run-'))));
  try {
    const tensorsBefore = tfc.memory().numTensors;
    const write = (runDir: string, seed: number) => writeRunPictures({ runDir, model, history, evalResult, test: testSet, predictions, seed });
    const files = await write(dirs[0], 13);
    assert.equal(tfc.memory().numTensors, tensorsBefore, 'no tensor leak');

    const expected = ['curvesSvg', 'curvesPng', 'confusionSvg', 'confusionPng', 'correctPng', 'incorrectPng', 'activationsPng'] as const;
    assert.deepEqual(Object.keys(files).sort(), [...expected].sort());
    for (const key of expected) assert.equal(files[key], path.join(dirs[0], RUN_FILES[key]));
    // Nothing but the pictures: no temp file left behind by the atomic writes.
    assert.deepEqual((await readdir(dirs[0])).sort(), expected.map((k) => RUN_FILES[k]).sort());
    for (const key of expected) {
      const bytes = await readFile(files[key]);
      if (key.endsWith('Svg')) assert.match(bytes.toString('utf8'), /^<svg[\s\S]*<\/svg>$/);
      else assert.equal((await sharp(bytes).metadata()).format, 'png');
    }

    // Same seed, same pictures; another seed picks other grid images.
    await write(dirs[1], 13);
    await write(dirs[2], 14);
    const bytesOf = (dir: string, key: keyof typeof RUN_FILES) => readFile(path.join(dir, RUN_FILES[key]));
    assert.deepEqual(await bytesOf(dirs[1], 'correctPng'), await bytesOf(dirs[0], 'correctPng'));
    assert.deepEqual(await bytesOf(dirs[1], 'activationsPng'), await bytesOf(dirs[0], 'activationsPng'));
    assert.notDeepEqual(await bytesOf(dirs[2], 'correctPng'), await bytesOf(dirs[0], 'correctPng'));
  } finally {
    model.dispose();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
});
