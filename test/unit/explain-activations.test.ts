import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { FASHION_SHAPE, PIXELS } from '../../src/data/types.js';
import { ACTIVATIONS, activationsPng, renderActivations } from '../../src/explain/index.js';
import { UserError } from '../../src/util/errors.js';

before(async () => {
  await tfc.setBackend('cpu');
});

function smallCnn(convFilters: number[]): tfl.Sequential {
  const model = tfl.sequential({ name: `small${convFilters.length}` });
  convFilters.forEach((filters, i) => {
    model.add(tfl.layers.conv2d({ ...(i === 0 ? { inputShape: [28, 28, 1] } : {}), filters, kernelSize: 3, activation: 'relu' }));
    if (i < convFilters.length - 1) model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  });
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  return model;
}

function gradientImage(): Float32Array {
  return Float32Array.from({ length: PIXELS }, (_, i) => (i % 28) / 27);
}

async function rawRgb(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  return { info, at };
}

test('activations: one block per conv layer, heights derived from each output shape, no tensor leak', async () => {
  const model = smallCnn([4, 20]); // 26x26x4 -> pool 13x13 -> 11x11x20
  const dir = await mkdtemp(path.join(tmpdir(), 'explain-act-'));
  try {
    const file = path.join(dir, 'activations.png');
    const tensorsBefore = tfc.memory().numTensors;
    const layout = await renderActivations(model, gradientImage(), FASHION_SHAPE, file, { caption: 'synthetic' });
    assert.equal(tfc.memory().numTensors, tensorsBefore, 'every tensor disposed');

    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D');
    assert.deepEqual(layout.blocks.map((b) => b.name), convs.map((l) => l.name));
    assert.deepEqual(layout.blocks.map((b) => b.shape), [[26, 26, 4], [11, 11, 20]]);
    const { blockTitleHeight: title, tileGap: gap } = ACTIVATIONS;
    // 26x26 tiles shown x2 in one row of 4; 11x11 tiles shown x5 in two rows (16 + 4).
    assert.deepEqual(layout.blocks.map((b) => b.height), [title + 52, title + 2 * 55 + gap]);
    assert.equal(layout.blocks[1].top, layout.blocks[0].top + layout.blocks[0].height + ACTIVATIONS.blockGap);

    const png = await readFile(file);
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.deepEqual([meta.width, meta.height], [layout.width, layout.height]);

    // Each block's tiles are drawn (viridis is never white or grey) where the layout says.
    const { at } = await rawRgb(png);
    for (const b of layout.blocks) {
      const [r, g, bl] = at(ACTIVATIONS.margin + 1, b.top + title + 1);
      assert.ok(Math.max(r, g, bl) - Math.min(r, g, bl) > 30, `${b.name}: a coloured tile pixel, got ${[r, g, bl]}`);
      assert.deepEqual(at(ACTIVATIONS.margin + 1, b.top + b.height + 2), [255, 255, 255], `${b.name}: white gap below`);
    }

    // The original model still predicts: its weights were not disposed with the probe model.
    const y = tfc.tidy(() => tfc.sum(model.predict(tfc.zeros([1, 28, 28, 1])) as tfc.Tensor).dataSync()[0]);
    assert.ok(Math.abs(y - 1) < 1e-4);
  } finally {
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('activations: one more conv layer adds exactly one block', async () => {
  const two = smallCnn([4, 8]);
  const three = smallCnn([4, 8, 8]);
  try {
    const a = (await activationsPng(two, gradientImage(), FASHION_SHAPE)).layout;
    const b = (await activationsPng(three, gradientImage(), FASHION_SHAPE)).layout;
    assert.equal(b.blocks.length, a.blocks.length + 1);
    const extra = b.blocks[2];
    assert.deepEqual(extra.shape, [3, 3, 8]);
    assert.equal(b.height, a.height + ACTIVATIONS.blockGap + extra.height);
  } finally {
    two.dispose();
    three.dispose();
  }
});

test('activations: each channel is normalised on its own; a constant channel is the darkest colour', async () => {
  // A 1x1 conv with weights [+1, -1]: channel 0 is the input itself, channel 1 is relu(-input) = 0.
  const model = tfl.sequential({ name: 'identity' });
  model.add(tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 1, activation: 'relu' }));
  model.setWeights([tfc.tensor4d([1, -1], [1, 1, 1, 2]), tfc.zeros([2])]);
  try {
    const { png, layout } = await activationsPng(model, gradientImage(), FASHION_SHAPE);
    const [block] = layout.blocks;
    assert.equal(block.scale, 2);
    const { at } = await rawRgb(png);
    const x0 = ACTIVATIONS.margin;
    const y0 = block.top + ACTIVATIONS.blockTitleHeight;
    const tile = 28 * block.scale + ACTIVATIONS.tileGap;
    assert.deepEqual(at(x0, y0), [68, 1, 84], 'input 0 -> viridis(0)');
    assert.deepEqual(at(x0 + 28 * block.scale - 1, y0), [253, 231, 37], 'input max -> viridis(1)');
    assert.deepEqual(at(x0 + tile + 30, y0 + 10), [68, 1, 84], 'constant channel -> viridis(0)');
  } finally {
    model.dispose();
  }
});

test('activations: a model without conv layers still gets a picture; a wrong image size is a user error', async () => {
  const dense = tfl.sequential({ name: 'dense' });
  dense.add(tfl.layers.flatten({ inputShape: [28, 28, 1] }));
  dense.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  try {
    const { png, layout } = await activationsPng(dense, gradientImage(), FASHION_SHAPE);
    assert.equal(layout.blocks.length, 0);
    assert.equal((await sharp(png).metadata()).height, layout.height);
    await assert.rejects(activationsPng(dense, new Float32Array(100), FASHION_SHAPE), UserError);
    await assert.rejects(activationsPng(dense, new Float32Array(100), [10, 10, 1]), UserError);
  } finally {
    dense.dispose();
  }
});
