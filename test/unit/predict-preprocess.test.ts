/**
 * Photo -> Fashion-MNIST preprocessing on photo-like images made from real Fashion-MNIST items:
 * enlarged, drawn dark on a light background (or light on a dark one), tinted, moved off-centre,
 * noisy, saved in several formats. The 28x28 result must look like the original item, centred.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { preprocessImage } from '../../src/predict/index.js';
import { sideHeights } from '../../src/predict/preprocess.js';
import { UserError } from '../../src/util/errors.js';
import { rejectsWith } from '../helpers/assert-user-error.js';
import { Rng } from '../../src/util/rng.js';
import { writeBadFiles } from '../helpers/predict-fixtures.js';

const TEST_IMAGES = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
const haveData = existsSync(TEST_IMAGES);
const skip = haveData ? false : `Fashion-MNIST test images not found at ${TEST_IMAGES} (apt-get install dataset-fashion-mnist)`;

/**
 * Test items whose drawn part spans (almost) the whole frame on its long axis, as the preprocessing
 * will make it; of one class when `label` is given.
 */
function loadItems(count: number, label?: number, accept: (item: Uint8Array) => boolean = () => true): Uint8Array[] {
  const raw = gunzipSync(readFileSync(TEST_IMAGES));
  const labels = gunzipSync(readFileSync(TEST_IMAGES.replace('images-idx3', 'labels-idx1')));
  const items: Uint8Array[] = [];
  for (let k = 0; items.length < count && k < 2000; k++) {
    if (label !== undefined && labels[8 + k] !== label) continue;
    const item = raw.subarray(16 + k * 784, 16 + (k + 1) * 784);
    const b = inkBox(Float32Array.from(item, (v) => v / 255), 28, 0.05);
    if (b && Math.max(b.width, b.height) >= 27 && accept(item)) items.push(Uint8Array.from(item));
  }
  return items;
}

/** Bounding box of pixels above `level`. */
function inkBox(pixels: Float32Array, size: number, level: number) {
  let x0 = size, y0 = size, x1 = -1, y1 = -1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (pixels[y * size + x] > level) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * Best correlation over shifts of up to `maxShift` pixels: some Fashion-MNIST items are not centred
 * in their own frame (the preprocessing centres them), so the reference is allowed to move.
 */
function shiftedCorrelation(frame: Float32Array, item: Float32Array, maxShift = 3): number {
  let best = -1;
  for (let dy = -maxShift; dy <= maxShift; dy++) {
    for (let dx = -maxShift; dx <= maxShift; dx++) {
      const moved = new Float32Array(784);
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          const sx = x - dx;
          const sy = y - dy;
          if (sx >= 0 && sy >= 0 && sx < 28 && sy < 28) moved[y * 28 + x] = item[sy * 28 + sx];
        }
      }
      best = Math.max(best, correlation(frame, moved));
    }
  }
  return best;
}

interface PhotoSpec {
  /** Side the 28x28 item is enlarged to. */
  itemSize: number;
  canvas: [number, number];
  offset: [number, number];
  background: [number, number, number];
  /** Colour of fully inked item pixels. */
  ink: [number, number, number];
  noise: number;
  seed: number;
}

/** RGB pixels of a photo-like picture of a Fashion-MNIST item: ink mixed into the background in proportion to the item's grey level. */
async function photoPixels(item: Uint8Array, spec: PhotoSpec): Promise<{ data: Uint8Array; width: number; height: number }> {
  const big = await sharp(item, { raw: { width: 28, height: 28, channels: 1 } }).resize(spec.itemSize, spec.itemSize, { kernel: 'lanczos3' }).extractChannel(0).raw().toBuffer();
  const [w, h] = spec.canvas;
  const rng = new Rng(spec.seed);
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ix = x - spec.offset[0];
      const iy = y - spec.offset[1];
      const a = ix >= 0 && iy >= 0 && ix < spec.itemSize && iy < spec.itemSize ? big[iy * spec.itemSize + ix] / 255 : 0;
      for (let c = 0; c < 3; c++) {
        const v = spec.background[c] * (1 - a) + spec.ink[c] * a + spec.noise * rng.normal();
        data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { data, width: w, height: h };
}

type Format = 'jpeg' | 'png' | 'webp' | 'gif';

async function encode(px: { data: Uint8Array; width: number; height: number }, format: Format): Promise<Buffer> {
  const img = sharp(px.data, { raw: { width: px.width, height: px.height, channels: 3 } });
  if (format === 'jpeg') return img.jpeg({ quality: 85 }).toBuffer();
  if (format === 'webp') return img.webp({ quality: 80 }).toBuffer();
  if (format === 'gif') return img.gif().toBuffer();
  return img.png().toBuffer();
}

function assertLooksLike(pixels: Float32Array, item: Uint8Array, what: string, minCorrelation = 0.9): void {
  assert.equal(pixels.length, 784);
  assert.ok(pixels.every((v) => v >= 0 && v <= 1), `${what}: values in [0,1]`);
  const r = shiftedCorrelation(pixels, Float32Array.from(item, (v) => v / 255));
  assert.ok(r > minCorrelation, `${what}: correlation with the original item ${r.toFixed(3)} <= ${minCorrelation}`);
  const box = inkBox(pixels, 28, 0.1);
  assert.ok(box, `${what}: something visible`);
  assert.ok(Math.max(box.width, box.height) >= 26, `${what}: long side fills the frame (${box.width}x${box.height})`);
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  assert.ok(Math.abs(cx - 14) <= 1.5 && Math.abs(cy - 14) <= 1.5, `${what}: centred (box centre ${cx},${cy})`);
  let max = 0;
  for (const v of pixels) max = Math.max(max, v);
  assert.ok(max > 0.9, `${what}: contrast stretched (max ${max.toFixed(2)})`);
}

const LIGHT: Omit<PhotoSpec, 'seed'> = { itemSize: 300, canvas: [460, 400], offset: [25, 70], background: [238, 232, 220], ink: [30, 45, 110], noise: 5 };
const DARK: Omit<PhotoSpec, 'seed'> = { itemSize: 260, canvas: [420, 380], offset: [140, 20], background: [22, 20, 28], ink: [235, 205, 170], noise: 5 };

test('light-background photos of Fashion-MNIST items in JPEG, PNG, WebP and GIF come back as the item', { skip }, async () => {
  const items = loadItems(3);
  for (const [i, item] of items.entries()) {
    for (const format of ['jpeg', 'png', 'webp', 'gif'] as Format[]) {
      const bytes = await encode(await photoPixels(item, { ...LIGHT, seed: i }), format);
      const { pixels, info } = await preprocessImage(bytes);
      assert.equal(info.source.format, format);
      assert.equal(info.background.light, true);
      assert.equal(info.inverted, true);
      assertLooksLike(pixels, item, `item ${i} as ${format}`);
      // The object's box, in the photo's own pixels, is where the item was drawn.
      assert.ok(Math.abs(info.box.x + info.box.width / 2 - (LIGHT.offset[0] + 150)) < 25, `item ${i} ${format}: box found at ${JSON.stringify(info.box)}`);
    }
  }
});

test('dark-background photos are not inverted and come back as the item', { skip }, async () => {
  const items = loadItems(3);
  for (const [i, item] of items.entries()) {
    const bytes = await encode(await photoPixels(item, { ...DARK, seed: 10 + i }), 'jpeg');
    const { pixels, info } = await preprocessImage(bytes);
    assert.equal(info.background.light, false);
    assert.equal(info.inverted, false);
    assertLooksLike(pixels, item, `dark item ${i}`);
  }
});

test('a textured, unevenly lit background is still separated from the object', { skip }, async () => {
  const [item] = loadItems(1);
  const px = await photoPixels(item, { ...LIGHT, noise: 14, seed: 3 });
  // A soft light gradient across the photo, as from a window.
  for (let y = 0; y < px.height; y++) {
    for (let x = 0; x < px.width; x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * px.width + x) * 3 + c;
        px.data[i] = Math.max(0, Math.round(px.data[i] - (18 * x) / px.width));
      }
    }
  }
  const { pixels } = await preprocessImage(await encode(px, 'jpeg'));
  assertLooksLike(pixels, item, 'textured background', 0.85);
});

test('a raw Fashion-MNIST item passes through (nearly) unchanged', { skip }, async () => {
  for (const [i, item] of loadItems(3).entries()) {
    const png = await sharp(item, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
    const { pixels } = await preprocessImage(png);
    assertLooksLike(pixels, item, `raw item ${i}`, 0.95);
  }
});

test('EXIF orientation is honoured', { skip }, async () => {
  const [item] = loadItems(1);
  const px = await photoPixels(item, { ...LIGHT, seed: 7 });
  // Stored turned a quarter anticlockwise, tagged "rotate 90 clockwise to display" (EXIF 6).
  const stored = await sharp(px.data, { raw: { width: px.width, height: px.height, channels: 3 } }).rotate(270).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const { pixels, info } = await preprocessImage(stored);
  assert.deepEqual([info.source.width, info.source.height], [px.width, px.height]);
  assertLooksLike(pixels, item, 'EXIF-rotated photo');
});

test('transparency is flattened onto white (a cut-out product)', { skip }, async () => {
  const [item] = loadItems(1);
  const big = await sharp(item, { raw: { width: 28, height: 28, channels: 1 } }).resize(200, 200).extractChannel(0).raw().toBuffer();
  const rgba = new Uint8Array(200 * 200 * 4);
  for (let i = 0; i < 200 * 200; i++) rgba.set([40, 40, 40, big[i]], i * 4);
  const png = await sharp(rgba, { raw: { width: 200, height: 200, channels: 4 } }).extend({ top: 40, bottom: 40, left: 60, right: 20, background: { r: 0, g: 0, b: 0, alpha: 0 } }).png().toBuffer();
  const { pixels, info } = await preprocessImage(png);
  assert.equal(info.background.light, true);
  assertLooksLike(pixels, item, 'transparent PNG');
});

test('an animated GIF is read from its first frame', { skip }, async () => {
  const [first, second] = loadItems(2);
  const a = await photoPixels(first, { ...LIGHT, canvas: [360, 360], offset: [30, 30], seed: 1 });
  const b = await photoPixels(second, { ...LIGHT, canvas: [360, 360], offset: [30, 30], seed: 2 });
  const frames = new Uint8Array(a.data.length * 2);
  frames.set(a.data, 0);
  frames.set(b.data, a.data.length);
  const gif = await sharp(frames, { raw: { width: 360, height: 720, channels: 3, pageHeight: 360 } }).gif({ delay: [100, 100] }).toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  const { pixels } = await preprocessImage(gif);
  assertLooksLike(pixels, first, 'first GIF frame');
});

function mirrored(item: Uint8Array): Uint8Array {
  return Uint8Array.from(item, (_, i) => item[i - (i % 28) + 27 - (i % 28)]);
}

test('shoes facing right are mirrored to face left like Fashion-MNIST\'s; garments are not', { skip }, async () => {
  for (const [label, name] of [[7, 'sneaker'], [9, 'ankle boot'], [5, 'sandal']] as const) {
    // Shoes that clearly face left (a flat one has no direction to find).
    const facingLeft = (item: Uint8Array) => {
      const { left, right } = sideHeights(item, 28, 0.12 * 255);
      return right - left >= 2;
    };
    for (const [i, item] of loadItems(2, label, facingLeft).entries()) {
      const right = await encode(await photoPixels(mirrored(item), { ...LIGHT, seed: 20 + i }), 'jpeg');
      const left = await encode(await photoPixels(item, { ...LIGHT, seed: 30 + i }), 'jpeg');
      const fromRight = await preprocessImage(right);
      const fromLeft = await preprocessImage(left);
      assert.equal(fromRight.info.mirrored, true, `${name} ${i} facing right`);
      assert.equal(fromLeft.info.mirrored, false, `${name} ${i} facing left`);
      assertLooksLike(fromRight.pixels, item, `${name} ${i} facing right`);
    }
  }
  for (const label of [0, 1, 3]) {
    const [item] = loadItems(1, label);
    const { info } = await preprocessImage(await encode(await photoPixels(mirrored(item), { ...LIGHT, seed: 40 + label }), 'png'));
    assert.equal(info.mirrored, false, `class ${label} is tall: never mirrored`);
  }
});

test('a blank photo is refused; asked not to refuse, it gives a black frame and says no object was found', async () => {
  const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#f4f4f4' } }).png().toBuffer();
  await rejectsWith(preprocessImage(png), /no object stands out from the background/);
  const tiny = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer();
  await rejectsWith(preprocessImage(tiny), /image too small: 1x1 pixels/);
  const { pixels, info } = await preprocessImage(png, { requireObject: false });
  assert.equal(info.objectFound, false);
  assert.ok(pixels.every((v) => v === 0));
});

test('bad inputs are refused with one clear line each', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'predict-bad-'));
  try {
    await writeBadFiles(dir);
    const expected: Record<string, RegExp> = {
      'empty.jpg': /^empty file$/,
      'text.jpg': /^not an image/,
      'truncated.jpg': /truncated/,
      'corrupt.jpg': /corrupt/,
      'huge.png': /^image too large: 100000x100000/,
      'folder.jpg': /is a directory/,
      'missing.jpg': /^no such file$/,
    };
    for (const [name, pattern] of Object.entries(expected)) {
      await assert.rejects(preprocessImage(path.join(dir, name)), (e: unknown) => {
        assert.ok(e instanceof UserError, `${name}: a UserError`);
        assert.match(e.message, pattern, `${name}: ${e.message}`);
        assert.ok(!e.message.includes('\n'), `${name}: one line`);
        return true;
      });
    }
    // The same checks apply to bytes handed over directly (an upload).
    await assert.rejects(preprocessImage(Buffer.alloc(0)), /empty file/);
    await assert.rejects(preprocessImage(Buffer.from('GIF89a, or so it says')), /not an image|corrupt/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the size limits are configurable and checked before decoding', async () => {
  const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#ffffff' } }).png().toBuffer();
  await assert.rejects(preprocessImage(png, { limits: { maxPixels: 100_000 } }), /image too large: 400x300/);
  await assert.rejects(preprocessImage(png, { limits: { maxFileBytes: 100 } }), /file too large/);
  const ok = await preprocessImage(png, { limits: { maxPixels: 120_000 }, requireObject: false });
  assert.equal(ok.info.source.width, 400);
});
