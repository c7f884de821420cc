/** The frame's resampler (src/predict/resample.ts) against sharp's resize, which it stands in for. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { resizeGrey, type ResampleKernel } from '../../src/predict/resample.js';
import { fitToFrame } from '../../src/predict/preprocess.js';
import { resolvePreprocessConfig } from '../../src/predict/config.js';
import { Rng } from '../../src/util/rng.js';

const KERNELS: ResampleKernel[] = ['linear', 'cubic', 'mitchell', 'lanczos3'];

/** A garment-like test picture: a smooth gradient, a bright blob with hard edges, stripes and noise. */
function picture(width: number, height: number, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inBlob = (x / width - 0.5) ** 2 + (y / height - 0.45) ** 2 < 0.08;
      const stripe = inBlob && Math.floor(y / Math.max(2, height / 12)) % 2 === 0 ? 60 : 0;
      const v = 40 * (x / width) + (inBlob ? 150 + stripe : 10) + 12 * rng.next();
      out[y * width + x] = Math.min(255, Math.round(v));
    }
  }
  return out;
}

async function sharpResize(src: Uint8Array, width: number, height: number, toWidth: number, toHeight: number, kernel: ResampleKernel): Promise<Uint8Array> {
  return sharp(src, { raw: { width, height, channels: 1 } }).resize(toWidth, toHeight, { fit: 'fill', kernel }).extractChannel(0).raw().toBuffer();
}

test('a flat picture stays flat at every size and kernel (the weights of each output pixel add up to 1)', () => {
  for (const kernel of KERNELS) {
    for (const [w, h, tw, th] of [
      [256, 190, 28, 21],
      [31, 29, 28, 26],
      [9, 14, 18, 28],
      [1, 40, 1, 28],
    ]) {
      const out = resizeGrey(new Uint8Array(w * h).fill(137), w, h, tw, th, kernel);
      assert.equal(out.length, tw * th);
      assert.ok(
        out.every((v) => v === 137),
        `${kernel} ${w}x${h} -> ${tw}x${th}: ${[...new Set(out)].join(',')}`,
      );
    }
  }
});

test('a large shrink averages what it covers: a 1-pixel checkerboard becomes mid-grey, not a moiré', () => {
  const w = 224;
  const board = Uint8Array.from({ length: w * w }, (_, i) => (((i % w) + Math.floor(i / w)) % 2 ? 255 : 0));
  for (const kernel of KERNELS) {
    const out = resizeGrey(board, w, w, 28, 28, kernel);
    for (const v of out) assert.ok(Math.abs(v - 127.5) <= 2, `${kernel}: ${v}`);
  }
});

test("a shrink matches sharp's to within a grey level on average, in every kernel", async () => {
  for (const kernel of KERNELS) {
    for (const [w, h, tw, th] of [
      [256, 200, 28, 22],
      [183, 61, 28, 9],
      [100, 37, 28, 10],
      [45, 60, 21, 28],
      [29, 28, 28, 27],
    ]) {
      const src = picture(w, h);
      const ours = resizeGrey(src, w, h, tw, th, kernel);
      const theirs = await sharpResize(src, w, h, tw, th, kernel);
      let sum = 0;
      let max = 0;
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(ours[i] - theirs[i]);
        sum += d;
        max = Math.max(max, d);
      }
      const what = `${kernel} ${w}x${h} -> ${tw}x${th}`;
      assert.ok(sum / ours.length < 1, `${what}: mean difference ${(sum / ours.length).toFixed(2)}`);
      assert.ok(max <= 16, `${what}: largest difference ${max}`);
    }
  }
});

test('an enlargement is centred: the mirror image of the input gives the mirror image of the output', () => {
  // (sharp's enlargement is not: it maps output pixels a third of a pixel to the left.)
  const w = 20;
  const h = 15;
  const src = picture(w, h, 2);
  const mirror = (img: Uint8Array, width: number) => img.map((_, i) => img[i - (i % width) + width - 1 - (i % width)]);
  for (const kernel of KERNELS) {
    const out = resizeGrey(src, w, h, 28, 21, kernel);
    assert.deepEqual(resizeGrey(mirror(src, w), w, h, 28, 21, kernel), mirror(out, 28), kernel);
    const ramp = resizeGrey(Uint8Array.from({ length: 10 }, (_, i) => 20 * i), 10, 1, 14, 1, kernel);
    for (let i = 1; i < 14; i++) assert.ok(ramp[i] >= ramp[i - 1], `${kernel}: a ramp stays a ramp: ${ramp.join(',')}`);
    assert.ok(ramp[0] <= 2 && ramp[13] >= 178, `${kernel}: ${ramp.join(',')}`);
  }
});

test('resizeGrey refuses pixels that do not fill the stated size', () => {
  assert.throws(() => resizeGrey(new Uint8Array(10), 4, 3, 2, 2, 'linear'), /10 values for 4x3/);
});

test("fitToFrame resamples in TypeScript for the mask mode and leaves the paper's rendering to sharp", async () => {
  const mask = resolvePreprocessConfig({ mode: 'mask' });
  const w = 120;
  const h = 90;
  const intensity = picture(w, h, 3);
  const box = { x: 10, y: 5, width: 100, height: 80 };
  const frame = await fitToFrame(intensity, w, h, box, mask);
  assert.equal(frame.length, 28 * 28);
  // The box's long side fills the frame; the short one (80/100 of 28, rounded: 22) is centred.
  const lit = (row: number) => frame.subarray(row * 28, row * 28 + 28).some((v) => v > 0);
  assert.deepEqual([lit(2), lit(3), lit(24), lit(25)], [false, true, true, false]);
  const hybrid = resolvePreprocessConfig({ mode: 'hybrid' });
  await assert.rejects(fitToFrame(intensity, w, h, box, hybrid), /rendered by sharp/);
  let calls = 0;
  const rendered = await fitToFrame(intensity, w, h, box, hybrid, (_crop, cw, ch, tw, th) => {
    calls++;
    assert.deepEqual([cw, ch, tw, th], [100, 80, 28, 22]);
    return new Uint8Array(tw * th).fill(9);
  });
  assert.equal(calls, 1);
  assert.equal(rendered.filter((v) => v === 9).length, 28 * 22);
});
