import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CLASS_NAMES } from '../../src/data/types.js';
import type { EvalResult } from '../../src/evaluate/types.js';
import { PHASE_BOUNDARY_LABEL, phaseBoundary, PNG_SCALE, renderConfusion, renderCurves } from '../../src/explain/index.js';
import type { HistoryRow } from '../../src/runs/index.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

function syntheticHistory(baseEpochs: number, augEpochs: number): HistoryRow[] {
  const rows: HistoryRow[] = [];
  for (let e = 1; e <= baseEpochs + augEpochs; e++) {
    rows.push({
      phase: e <= baseEpochs ? 'base' : 'augment',
      epoch: e,
      loss: 0.6 / Math.sqrt(e),
      acc: 1 - 0.3 / Math.sqrt(e),
      val_loss: 0.5 / Math.sqrt(e) + 0.05,
      val_acc: 0.97 - 0.3 / Math.sqrt(e),
      seconds: 3,
      lr: 0.001,
    });
  }
  return rows;
}

function syntheticEval(seed: number): EvalResult {
  const rng = new Rng(seed);
  const confusion = CLASS_NAMES.map((_, t) => CLASS_NAMES.map((_, p) => (t === p ? 850 + rng.int(100) : rng.int(20))));
  const count = confusion.flat().reduce((a, b) => a + b, 0);
  const correct = confusion.reduce((s, row, i) => s + row[i], 0);
  return { phase: 'augment', epoch: 60, test_loss: 0.2345, test_acc: correct / count, per_class: [], macro_f1: 0.9, confusion, count };
}

/** The width/height attributes of an SVG's root element. */
function svgSize(svg: string): { width: number; height: number } {
  const m = /^<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
  assert.ok(m, 'root <svg> with width and height');
  return { width: Number(m[1]), height: Number(m[2]) };
}

async function assertPngOfSvg(pngFile: string, svg: string): Promise<void> {
  const png = await readFile(pngFile);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const meta = await sharp(png).metadata();
  const size = svgSize(svg);
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, Math.round(size.width * PNG_SCALE));
  assert.equal(meta.height, Math.round(size.height * PNG_SCALE));
}

/** Visible text of an SVG, so an assertion is not fooled by a name in an attribute. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1].replace(/&amp;/g, '&'));
}

test('curves: two panels, train and validation legend, phase boundary label, PNG at 2x', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'explain-curves-'));
  try {
    const out = { svg: path.join(dir, 'curves.svg'), png: path.join(dir, 'curves.png') };
    await renderCurves(syntheticHistory(10, 50), out, { title: 'cnn1 run' });
    const svg = await readFile(out.svg, 'utf8');
    const texts = svgTexts(svg);
    for (const t of ['cnn1 run', 'accuracy', 'loss', 'train', 'validation', PHASE_BOUNDARY_LABEL, 'epoch']) {
      assert.ok(texts.includes(t), `SVG shows "${t}"`);
    }
    assert.equal(texts.filter((t) => t === PHASE_BOUNDARY_LABEL).length, 2, 'boundary label in each panel');
    await assertPngOfSvg(out.png, svg);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('curves: the phase boundary sits between the last base epoch and the first augment epoch', () => {
  assert.equal(phaseBoundary(syntheticHistory(10, 50)), 10.5);
  assert.equal(phaseBoundary(syntheticHistory(10, 0)), null);
  assert.equal(phaseBoundary(syntheticHistory(0, 5)), null);
});

test('curves: only phase 1, and a single epoch, render without a boundary', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'explain-curves-'));
  try {
    for (const history of [syntheticHistory(10, 0), syntheticHistory(1, 0)]) {
      const out = { svg: path.join(dir, `c${history.length}.svg`), png: path.join(dir, `c${history.length}.png`) };
      await renderCurves(history, out);
      const svg = await readFile(out.svg, 'utf8');
      const texts = svgTexts(svg);
      assert.ok(texts.includes('validation'));
      assert.ok(!texts.includes(PHASE_BOUNDARY_LABEL));
      // Every epoch draws a point per split and panel, so even one epoch (a line of one point) is visible.
      assert.equal(svg.match(/aria-roledescription="point"/g)?.length, 4 * history.length);
      await assertPngOfSvg(out.png, svg);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('curves: a run without a validation split (--val-split 0) draws the training curves alone, and says so', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'explain-curves-'));
  try {
    const history = syntheticHistory(0, 6).map((r) => ({ ...r, val_loss: null as unknown as number, val_acc: null as unknown as number }));
    const out = { svg: path.join(dir, 'c.svg'), png: path.join(dir, 'c.png') };
    await renderCurves(history, out);
    const svg = await readFile(out.svg, 'utf8');
    const texts = svgTexts(svg);
    assert.ok(texts.includes('train'));
    assert.ok(!texts.includes('validation'), 'no legend entry for a split that has no figures');
    assert.ok(texts.some((t) => t.endsWith('no validation split')), texts.join(' | '));
    assert.equal(svg.match(/aria-roledescription="point"/g)?.length, 2 * history.length);
    await assertPngOfSvg(out.png, svg);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('curves: an empty history is a one-line user error', async () => {
  await assert.rejects(renderCurves([], { svg: '/nonexistent/a.svg', png: '/nonexistent/a.png' }), UserError);
});

test('confusion: class names on both axes, axis titles, counts in cells, accuracy in the title', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'explain-confusion-'));
  try {
    const result = syntheticEval(7);
    const out = { svg: path.join(dir, 'confusion.svg'), png: path.join(dir, 'confusion.png') };
    await renderConfusion(result, out);
    const svg = await readFile(out.svg, 'utf8');
    const texts = svgTexts(svg);
    for (const name of CLASS_NAMES) assert.equal(texts.filter((t) => t === name).length, 2, `"${name}" on both axes`);
    assert.ok(texts.includes('true') && texts.includes('predicted'));
    assert.ok(texts.some((t) => t.includes(`test accuracy ${(result.test_acc! * 100).toFixed(2)}%`)));
    // Every diagonal count is printed in its cell.
    for (let i = 0; i < CLASS_NAMES.length; i++) assert.ok(texts.includes(String(result.confusion[i][i])));
    await assertPngOfSvg(out.png, svg);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('confusion: a matrix of the wrong size is a user error', async () => {
  const bad = { ...syntheticEval(1), confusion: [[1, 2], [3, 4]] };
  await assert.rejects(renderConfusion(bad, { svg: '/nonexistent/a.svg', png: '/nonexistent/a.png' }), UserError);
});
