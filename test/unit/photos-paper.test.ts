/**
 * The paper's preprocessing ('paper' mode) on synthetic photos whose 28x28 frame can be worked out
 * by hand: exact trimming to the corner colour, the long edge to 28 by subsampling (rows and columns
 * skipped, not averaged), centring of the short edge, negation, grey; and the mode option itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { UserError } from '../../src/util/errors.js';
import { cornerColour, fitLongSide, preprocessImage, preprocessPaper, resolvePreprocessConfig, type PreprocessOverride } from '../../src/predict/index.js';
import type { RgbImage } from '../../src/predict/decode.js';

type Rgb = [number, number, number];

/** A width x height photo of colour `bg`, with `paint(x, y)` giving the colour of each object pixel (null: background). */
function photo(width: number, height: number, bg: Rgb, paint: (x: number, y: number) => Rgb | null): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(paint(x, y) ?? bg, (y * width + x) * 3);
  }
  return { data, width, height };
}

const rect = (x0: number, y0: number, w: number, h: number, colour: Rgb) => (x: number, y: number) => (x >= x0 && x < x0 + w && y >= y0 && y < y0 + h ? colour : null);

/** The frame as 0-255 integers. */
const bytes = (pixels: Float32Array) => Array.from(pixels, (v) => Math.round(v * 255));

/** A 28x28 frame holding `value` inside [x0, x0+w) x [y0, y0+h) and `outside` elsewhere. */
function expectedFrame(x0: number, y0: number, w: number, h: number, value: number, outside = 0): number[] {
  return Array.from({ length: 28 * 28 }, (_, i) => {
    const x = i % 28;
    const y = Math.floor(i / 28);
    return x >= x0 && x < x0 + w && y >= y0 && y < y0 + h ? value : outside;
  });
}

const paper = (extra: PreprocessOverride = {}) => resolvePreprocessConfig({ mode: 'paper', ...extra });
const unsharpened = paper({ paper: { sharpenSigma: 0 } });

/** Equal up to ±1 grey level (libvips's sRGB -> grey conversion may round the other way). */
function assertFrameClose(actual: number[], expected: number[], message: string): void {
  const off = actual.map((v, i) => Math.abs(v - expected[i])).reduce((a, b) => Math.max(a, b), 0);
  assert.ok(off <= 1, `${message}: off by up to ${off}`);
}

test('a tall grey rectangle on white: trimmed exactly, 28 high, centred, negated', async () => {
  // 70x140 object at (30, 20) in 200x200: trimmed to 70x140, subsampled to 14x28, placed at column (28-14)/2 = 7.
  const img = photo(200, 200, [255, 255, 255], rect(30, 20, 70, 140, [55, 55, 55]));
  const { pixels, info } = await preprocessPaper(img, unsharpened);
  assert.deepEqual(info.box, { x: 30, y: 20, width: 70, height: 140 });
  assert.deepEqual(info.background.rgb, [255, 255, 255]);
  assert.equal(info.objectFound, true);
  assert.equal(info.inverted, true);
  assertFrameClose(bytes(pixels), expectedFrame(7, 0, 14, 28, 200), 'frame');
});

test('a wide object: 28 wide, its short edge extended to 28 with the object centred', async () => {
  // 150x50 -> 28 x round(50 * 28 / 150) = 28x9, placed at row floor((28-9)/2) = 9.
  assert.deepEqual(fitLongSide(150, 50, 28), { width: 28, height: 9 });
  const img = photo(300, 180, [250, 250, 250], rect(100, 60, 150, 50, [10, 60, 110]));
  const { pixels, info } = await preprocessPaper(img, unsharpened);
  assert.deepEqual(info.box, { x: 100, y: 60, width: 150, height: 50 });
  const grey = bytes(pixels);
  // One colour in, one grey level out: every object pixel has the same value, every other one 255-250.
  const inside = grey[14 * 28 + 14];
  assert.ok(inside > 100, `negated dark blue is light: ${inside}`);
  assertFrameClose(grey, expectedFrame(0, 9, 28, 9, inside, 5), 'frame');
});

test('the trim threshold is 5% of the range: a difference of 12 is background, 13 is object', async () => {
  // sharp compares per channel with 0.05 x 255 = 12.75.
  const faint = photo(60, 60, [200, 200, 200], rect(20, 10, 10, 30, [188, 200, 200]));
  await assert.rejects(preprocessPaper(faint, unsharpened), (e: unknown) => e instanceof UserError && /no object stands out/.test(e.message));
  const visible = photo(60, 60, [200, 200, 200], rect(20, 10, 10, 30, [187, 200, 200]));
  const { info } = await preprocessPaper(visible, unsharpened);
  assert.deepEqual(info.box, { x: 20, y: 10, width: 10, height: 30 });
});

test('the background is the corner pixels\' colour, outvoting one corner that the object touches', async () => {
  const img = photo(80, 60, [240, 230, 220], (x, y) => (x < 40 && y < 30 ? [20, 20, 20] : null));
  assert.deepEqual(cornerColour(img), [240, 230, 220]);
  const { info } = await preprocessPaper(img, unsharpened);
  assert.deepEqual(info.box, { x: 0, y: 0, width: 40, height: 30 });
});

test('a one-pixel speck is not an object (sharp smooths with a 3x3 median before trimming)', async () => {
  const img = photo(100, 100, [255, 255, 255], (x, y) => (x === 5 && y === 5 ? [0, 0, 0] : rect(40, 30, 20, 40, [0, 0, 0])(x, y)));
  const { info } = await preprocessPaper(img, unsharpened);
  assert.deepEqual(info.box, { x: 40, y: 30, width: 20, height: 40 });
});

test('the long edge is subsampled: rows and columns skipped, not averaged', async () => {
  // A 112x112 object (4x4 source pixels per frame pixel), dark only where column % 4 and row % 4
  // equal `phase`, light elsewhere. Subsampling takes one source pixel per frame pixel, all at the
  // same offset in their 4x4 cell, so the frame is uniform: all dark or all light. Averaging would
  // mix one dark pixel with 15 light ones.
  const dark: Rgb = [0, 0, 0];
  const light: Rgb = [180, 180, 180];
  for (const phase of [1, 2]) {
    const img = photo(160, 160, [255, 255, 255], (x, y) => {
      const ox = x - 24;
      const oy = y - 24;
      if (ox < 0 || oy < 0 || ox >= 112 || oy >= 112) return null;
      return ox % 4 === phase && oy % 4 === phase ? dark : light;
    });
    const { pixels, info } = await preprocessPaper(img, unsharpened);
    assert.deepEqual(info.box, { x: 24, y: 24, width: 112, height: 112 });
    const values = new Set(bytes(pixels));
    assert.equal(values.size, 1, `phase ${phase}: one value, got ${[...values].join(',')}`);
    const [v] = values;
    // sharp's nearest takes the pixel at floor((k + 0.5) * 4) = 4k + 2.
    assert.ok(phase === 2 ? Math.abs(v - 255) <= 1 : Math.abs(v - 75) <= 1, `phase ${phase}: ${v}`);
  }
});

test('sharpening (sigma 1) raises the contrast of edges inside the object, before the frame is extended', async () => {
  // A 70x140 grey body with a light vertical stripe (object columns 25-44): subsampled by 5, the
  // stripe is frame columns 12-15 (source columns 5k + 2), the body 7-11 and 16-20.
  const img = photo(200, 200, [255, 255, 255], (x, y) => {
    if (x < 30 || x >= 100 || y < 20 || y >= 160) return null;
    return x - 30 >= 25 && x - 30 < 45 ? [220, 220, 220] : [120, 120, 120];
  });
  const plain = bytes((await preprocessPaper(img, unsharpened)).pixels);
  const sharpened = bytes((await preprocessPaper(img, paper())).pixels);
  const row = 14 * 28;
  assert.deepEqual([plain[row + 9], plain[row + 11], plain[row + 12], plain[row + 14]].map((v) => Math.round(v / 5) * 5), [135, 135, 35, 35]);
  // Beside the stripe the body gets darker before negation (lighter after), the stripe's edge the other way.
  assert.ok(sharpened[row + 11] > plain[row + 11] + 5, `body at the stripe: ${sharpened[row + 11]} vs ${plain[row + 11]}`);
  assert.ok(sharpened[row + 12] < plain[row + 12] - 5, `stripe at the body: ${sharpened[row + 12]} vs ${plain[row + 12]}`);
  // The extension comes after the sharpening: the margins stay exactly black.
  for (let y = 0; y < 28; y++) for (const x of [0, 6, 21, 27]) assert.equal(sharpened[y * 28 + x], 0, `margin (${x},${y})`);
});

test('a blank photo is refused with one line', async () => {
  const img = photo(50, 50, [128, 128, 128], () => null);
  await assert.rejects(preprocessPaper(img, paper()), (e: unknown) => e instanceof UserError && e.message === 'no object stands out from the background (a blank or uniform image?)');
});

test('the mode option: preprocessImage runs the chosen pipeline; hybrid is mask with the paper\'s rendering; bad modes are refused', async () => {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><rect width="100%" height="100%" fill="#ffffff"/><rect x="30" y="20" width="70" height="140" fill="#373737"/></svg>`;
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  const asPaper = await preprocessImage(png, { mode: 'paper', paper: { sharpenSigma: 0 } });
  assert.equal(asPaper.info.mode, 'paper');
  assertFrameClose(bytes(asPaper.pixels), expectedFrame(7, 0, 14, 28, 200), 'paper frame from a PNG');
  assert.deepEqual(asPaper.info.source, { format: 'png', width: 200, height: 200, bytes: png.length });

  const asMask = await preprocessImage(png, { mode: 'mask' });
  assert.equal(asMask.info.mode, 'mask');
  assert.equal(resolvePreprocessConfig().mode, 'mask');
  const hybrid = resolvePreprocessConfig({ mode: 'hybrid' });
  assert.deepEqual([hybrid.kernel, hybrid.sharpenSigma], ['nearest', 1]);
  assert.deepEqual([resolvePreprocessConfig({ mode: 'hybrid', sharpenSigma: 0 }).sharpenSigma], [0], 'explicit fields win over the mode preset');
  assert.equal((await preprocessImage(png, { mode: 'hybrid' })).info.mode, 'hybrid');
  assert.throws(() => resolvePreprocessConfig({ mode: 'bogus' as never }), (e: unknown) => e instanceof UserError && /unknown preprocessing mode "bogus" \(one of mask, paper, hybrid\)/.test(e.message));
});

test('a 20000x20 strip (2048x2 once loaded: thinner than the trim\'s 3x3 median) gets mask\'s one line, not libvips\'s error', async () => {
  const strip = await sharp({ create: { width: 20000, height: 20, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
  const refused = (mode: 'mask' | 'paper') => preprocessImage(strip, { mode }).then(
    () => assert.fail(`${mode}: classified`),
    (e: unknown) => (e instanceof UserError ? e.message : assert.fail(`${mode}: ${String(e)}`)),
  );
  assert.equal(await refused('paper'), await refused('mask'));
  assert.equal(await refused('paper'), 'no object stands out from the background (a blank or uniform image?)');
  // Told not to require an object, it frames the whole strip, as for a blank photo.
  const framed = await preprocessImage(strip, { mode: 'paper', requireObject: false });
  assert.deepEqual(framed.info.box, { x: 0, y: 0, width: 20000, height: 20 });
});
