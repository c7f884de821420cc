import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineThroughput, combineTorch, median } from '../../src/bench/rounds.js';

test('median takes the middle value and rejects an empty list', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 3);
  assert.throws(() => median([]), /no values/);
});

test('rounds combine to median throughput and the first round\'s peak memory', () => {
  const r = (train: number, infer: number, rss: number) => ({ trainImgPerS: train, inferImgPerS: infer, stepMs: 256_000 / train, trainFlopsPerImage: 3e6, inferFlopsPerImage: 1e6, peakRssMb: rss });
  const c = combineThroughput([r(7000, 50_000, 500), r(5200, 45_000, 520), r(7600, 52_000, 510)]);
  assert.equal(c.trainImgPerS, 7000);
  assert.equal(c.inferImgPerS, 50_000);
  assert.equal(c.peakRssMb, 500, 'later rounds run in a process other models have grown');
  assert.deepEqual([c.trainFlopsPerImage, c.inferFlopsPerImage], [3e6, 1e6]);
  const t = combineTorch([
    { framework: 'torch', model: 'cnn1', threads: 2, train_img_per_s: 2300, infer_img_per_s: 4400 },
    { framework: 'torch', model: 'cnn1', threads: 2, train_img_per_s: 2600, infer_img_per_s: 3800 },
    { framework: 'torch', model: 'cnn1', threads: 2, train_img_per_s: 2100, infer_img_per_s: 4000 },
  ]);
  assert.equal(t.train_img_per_s, 2300);
  assert.equal(t.infer_img_per_s, 4000);
  assert.equal(t.model, 'cnn1');
});
