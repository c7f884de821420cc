import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CLASS_NAMES, FASHION_SHAPE, IMAGE_SIZE, PIXELS, type Examples } from '../../src/data/types.js';
import { GRID, gridSize, pickGridItems, predictionCaption, renderGrid, type GridItem, type Prediction } from '../../src/explain/index.js';
import { Rng } from '../../src/util/rng.js';

const COUNT = 60;

function syntheticTest(): Examples {
  const rng = new Rng('grid-test');
  const x = new Float32Array(COUNT * PIXELS);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  return {
    x,
    y: Uint8Array.from({ length: COUNT }, (_, i) => i % 10),
    count: COUNT,
    indices: Uint32Array.from({ length: COUNT }, (_, i) => i),
    shape: FASHION_SHAPE,
  };
}

/** Right on every example except those whose index is a multiple of `wrongEvery`. */
function syntheticPredictions(data: Examples, wrongEvery: number): Prediction[] {
  return Array.from(data.y, (y, i) => (i % wrongEvery === 0 ? { label: (y + 3) % 10, prob: 0.4 } : { label: y, prob: 0.9 }));
}

test('pickGridItems: nine seeded picks, only correct or only incorrect ones, with their pixels and captions', () => {
  const data = syntheticTest();
  const preds = syntheticPredictions(data, 4);
  const a = pickGridItems(data, preds, true, new Rng(5));
  const b = pickGridItems(data, preds, true, new Rng(5));
  const c = pickGridItems(data, preds, true, new Rng(6));
  assert.equal(a.length, 9);
  assert.deepEqual(a.map((it) => it.index), b.map((it) => it.index), 'same seed, same picks');
  assert.notDeepEqual(a.map((it) => it.index), c.map((it) => it.index), 'other seed, other picks');
  assert.equal(new Set(a.map((it) => it.index)).size, 9, 'no repeats');
  for (const it of a) {
    const i = it.index!;
    assert.equal(preds[i].label, data.y[i]);
    assert.equal(it.ok, true);
    assert.deepEqual(it.pixels, data.x.slice(i * PIXELS, (i + 1) * PIXELS));
    assert.equal(it.caption, `pred: ${CLASS_NAMES[data.y[i]]} (0.90) / true: ${CLASS_NAMES[data.y[i]]}`);
  }
  const wrong = pickGridItems(data, preds, false, new Rng(5));
  assert.equal(wrong.length, 9);
  for (const it of wrong) {
    assert.notEqual(preds[it.index!].label, data.y[it.index!]);
    assert.equal(it.ok, false);
  }
});

test('pickGridItems: fewer candidates than nine gives them all, none gives an empty list', () => {
  const data = syntheticTest();
  const fewWrong = syntheticPredictions(data, 20); // indices 0, 20, 40
  assert.deepEqual(pickGridItems(data, fewWrong, false, new Rng(1)).map((it) => it.index).sort((p, q) => p! - q!), [0, 20, 40]);
  const allRight = syntheticPredictions(data, COUNT + 1).map((p, i) => (i === 0 ? { label: data.y[0], prob: 1 } : p));
  assert.deepEqual(pickGridItems(data, allRight, false, new Rng(1)), []);
  assert.throws(() => pickGridItems(data, fewWrong.slice(1), true, new Rng(1)));
});

test('predictionCaption names the predicted class with its probability, then the true class', () => {
  assert.equal(predictionCaption({ label: 6, prob: 0.7123 }, 0), 'pred: Shirt (0.71) / true: T-shirt/top');
});

/** Counts pixels within a small distance of a colour. */
async function countColour(png: Buffer, hex: string): Promise<number> {
  const [r, g, b] = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let o = 0; o < data.length; o += info.channels) {
    if (Math.abs(data[o] - r) < 12 && Math.abs(data[o + 1] - g) < 12 && Math.abs(data[o + 2] - b) < 12) n++;
  }
  return n;
}

test('renderGrid: a 3x3 PNG of the expected size, images upscaled in place, captions green or red', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'explain-grid-'));
  try {
    const black = new Float32Array(PIXELS);
    const items = (ok: boolean): GridItem[] => Array.from({ length: 9 }, () => ({ pixels: black, caption: 'pred: Bag (0.99) / true: Bag', ok }));
    const okFile = path.join(dir, 'correct.png');
    const wrongFile = path.join(dir, 'incorrect.png');
    await renderGrid(items(true), okFile, { title: 'Correct' });
    await renderGrid(items(false), wrongFile, { title: 'Incorrect' });
    const okPng = await readFile(okFile);
    const meta = await sharp(okPng).metadata();
    assert.equal(meta.format, 'png');
    assert.deepEqual([meta.width, meta.height], [gridSize(true).width, gridSize(true).height]);

    // First cell's image: a black square, x6, centred in its cell under the title.
    const size = IMAGE_SIZE * GRID.scale;
    const left = GRID.margin + (GRID.cellWidth - size) / 2;
    const top = GRID.margin + GRID.titleHeight;
    const { data, info } = await sharp(okPng).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
    assert.deepEqual(at(left + 1, top + 1), [0, 0, 0]);
    assert.deepEqual(at(left + size - 2, top + size - 2), [0, 0, 0]);
    assert.deepEqual(at(left - 2, top + 1), [255, 255, 255]);

    const green = '#1a7f37';
    const red = '#cf222e';
    assert.ok((await countColour(okPng, green)) > 100, 'green captions');
    assert.equal(await countColour(okPng, red), 0);
    const wrongPng = await readFile(wrongFile);
    assert.ok((await countColour(wrongPng, red)) > 100, 'red captions');
    assert.equal(await countColour(wrongPng, green), 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('renderGrid: no items still writes a picture of the same size, with a note', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'explain-grid-'));
  try {
    const file = path.join(dir, 'empty.png');
    await renderGrid([], file, { title: 'Incorrect', emptyText: 'none' });
    const meta = await sharp(await readFile(file)).metadata();
    assert.deepEqual([meta.width, meta.height], [gridSize(true).width, gridSize(true).height]);
    const stats = await sharp(await readFile(file)).stats();
    assert.ok(stats.channels[0].min < 200, 'some text was drawn');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
