import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { classCounts, loadFashionMnist, splitSizes, splitTrainVal, SYSTEM_DATA_DIR, toExamples, type ImageSet } from '../../src/data/index.js';
import { UserError } from '../../src/util/errors.js';
import { fixtureLabel, fixturePixel } from '../fixtures/data/idx-fixtures.js';

function syntheticSet(count: number): ImageSet {
  const images = new Uint8Array(count * 784);
  for (let i = 0; i < count; i++) for (let p = 0; p < 784; p++) images[i * 784 + p] = fixturePixel(i, p);
  return { images, labels: Uint8Array.from({ length: count }, (_, i) => fixtureLabel(i)), count, rows: 28, cols: 28 };
}

const set = syntheticSet(1000);

test('sizes: the article 80/20 split of 60,000 is 48,000 / 12,000', () => {
  assert.deepEqual(splitSizes(60000, 0.2), { train: 48000, val: 12000 });
  assert.deepEqual(splitSizes(1001, 0.2), { train: 801, val: 200 });
  assert.deepEqual(splitSizes(100, 0), { train: 100, val: 0 });
});

test('sizes with a limit: the first `limit` training examples, validation shrunk in proportion', () => {
  assert.deepEqual(splitSizes(60000, 0.2, 1000), { train: 1000, val: 250 });
  assert.deepEqual(splitSizes(60000, 0.2, 999), { train: 999, val: 250 }); // ceil(249.75)
  assert.deepEqual(splitSizes(60000, 0.2, 100000), { train: 48000, val: 12000 });
  assert.deepEqual(splitSizes(60000, 0.2, null), { train: 48000, val: 12000 });
});

test('bad fractions and limits are refused', () => {
  assert.throws(() => splitSizes(100, 1), UserError);
  assert.throws(() => splitSizes(100, -0.1), UserError);
  assert.throws(() => splitSizes(100, 0.2, 0), UserError);
  assert.throws(() => splitSizes(100, 0.2, 2.5), UserError);
});

test('split: sizes, disjoint, covering, deterministic per seed', () => {
  const a = splitTrainVal(set, { seed: 13, valFraction: 0.2 });
  assert.equal(a.train.count, 800);
  assert.equal(a.val.count, 200);
  const all = new Set([...a.train.indices, ...a.val.indices]);
  assert.equal(all.size, 1000, 'train and validation are disjoint and together hold every image');

  const again = splitTrainVal(set, { seed: 13, valFraction: 0.2 });
  assert.deepEqual(again.train.indices, a.train.indices);
  assert.deepEqual(again.val.indices, a.val.indices);
  assert.deepEqual(again.train.x, a.train.x);

  const other = splitTrainVal(set, { seed: 14, valFraction: 0.2 });
  assert.notDeepEqual(other.val.indices, a.val.indices);
  // A shuffle, not the file order.
  assert.notDeepEqual([...a.train.indices.subarray(0, 20)], Array.from({ length: 20 }, (_, i) => i));
});

test('split is plain random, not stratified (like the article)', () => {
  const { val } = splitTrainVal(set, { seed: 13, valFraction: 0.2 });
  const perClass = classCounts(val.y);
  assert.equal(perClass.reduce((a, b) => a + b, 0), 200);
  assert.ok(new Set(perClass).size > 1, `per-class validation counts vary: ${perClass.join(',')}`);
});

test('a limit keeps a prefix of the same shuffled order', () => {
  const full = splitTrainVal(set, { seed: 13, valFraction: 0.2 });
  const limited = splitTrainVal(set, { seed: 13, valFraction: 0.2, limit: 100 });
  assert.equal(limited.train.count, 100);
  assert.equal(limited.val.count, 25);
  assert.deepEqual(limited.train.indices, full.train.indices.subarray(0, 100));
  assert.deepEqual(limited.val.indices, full.val.indices.subarray(0, 25));
  assert.equal(limited.train.x.length, 100 * 784);
});

test('examples: float32 x/255 in NHWC, labels and indices follow the requested order', () => {
  const ex = toExamples(set, [7, 3]);
  assert.equal(ex.count, 2);
  assert.ok(ex.x instanceof Float32Array);
  assert.equal(ex.x.length, 2 * 28 * 28 * 1);
  assert.deepEqual([...ex.y], [fixtureLabel(7), fixtureLabel(3)]);
  assert.deepEqual([...ex.indices], [7, 3]);
  for (const [row, src] of [[0, 7], [1, 3]]) {
    for (const p of [0, 1, 27, 28, 400, 783]) {
      assert.equal(ex.x[row * 784 + p], Math.fround(fixturePixel(src, p) / 255));
    }
  }
  const all = toExamples(set);
  assert.equal(all.count, 1000);
  assert.deepEqual([...all.indices.subarray(0, 3)], [0, 1, 2]);
  assert.ok(all.x.every((v) => v >= 0 && v <= 1));
  assert.equal(Math.max(...all.x.subarray(0, 784)), 1, 'byte 255 maps to exactly 1');
});

const hasSystemData = existsSync(path.join(SYSTEM_DATA_DIR, 'train-images-idx3-ubyte.gz'));
test('the real training file splits into 48,000 / 12,000', { skip: hasSystemData ? false : `${SYSTEM_DATA_DIR} is absent` }, async (t) => {
  const data = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, allowDownload: false });
  const started = performance.now();
  const split = splitTrainVal(data.train, { seed: 13, valFraction: 0.2 });
  const test = toExamples(data.test);
  t.diagnostic(`split + float conversion of 70,000 images: ${((performance.now() - started) / 1000).toFixed(2)} s`);
  assert.equal(split.train.count, 48000);
  assert.equal(split.val.count, 12000);
  assert.equal(test.count, 10000);
  assert.equal(split.train.x.length, 48000 * 784);
  assert.equal(new Set([...split.train.indices, ...split.val.indices]).size, 60000);
});
