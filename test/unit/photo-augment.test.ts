/**
 * Photo-like augmentation (`--photo P`, src/train/photo-augment.ts): how often it applies, what it
 * keeps (the garment where it was, values in 0..1) and what it adds (blur, clutter in the empty
 * background), and that it is seeded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NO_AUGMENTATION, augmentBatch } from '../../src/train/augment.js';
import { PHOTO, gaussianBlur, photoDistort } from '../../src/train/photo-augment.js';
import { Rng } from '../../src/util/rng.js';

const R = 28;
const SIZE = R * R;

/** A T-shirt-like shape of grey 0.7 with a brighter stripe, on an empty (0) background. */
function garment(): Float32Array {
  const img = new Float32Array(SIZE);
  for (let r = 6; r < 24; r++) for (let c = 9; c < 19; c++) img[r * R + c] = 0.7;
  for (let r = 6; r < 11; r++) for (let c = 4; c < 24; c++) img[r * R + c] = 0.7;
  for (let c = 9; c < 19; c++) img[14 * R + c] = 1;
  return img;
}

function centroid(img: Float32Array): [number, number] {
  let m = 0, y = 0, x = 0;
  img.forEach((v, i) => {
    m += v;
    y += v * Math.floor(i / R);
    x += v * (i % R);
  });
  return [y / m, x / m];
}

describe('photo-like augmentation', () => {
  it('applies to about the asked share of images, and with 0 to none', () => {
    const n = 400;
    const x = new Float32Array(n * SIZE);
    for (let i = 0; i < n; i++) x.set(garment(), i * SIZE);
    const changed = (out: Float32Array) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (out.subarray(i * SIZE, (i + 1) * SIZE).some((v, j) => v !== x[i * SIZE + j])) k++;
      return k;
    };
    assert.equal(changed(augmentBatch(x, n, R, R, { ...NO_AUGMENTATION, photo: 0 }, new Rng(3))), 0);
    const k = changed(augmentBatch(x, n, R, R, { ...NO_AUGMENTATION, photo: 0.3 }, new Rng(3)));
    assert.ok(k > 90 && k < 150, `${k} of ${n} changed`);
  });

  it('keeps the garment where it was and the pixels in 0..1, and clutters about half the backgrounds', () => {
    const src = garment();
    const [cy, cx] = centroid(src);
    let cluttered = 0;
    for (let seed = 0; seed < 200; seed++) {
      const img = src.slice();
      photoDistort(img, 0, R, R, new Rng(seed));
      assert.ok(img.every((v) => v >= 0 && v <= 1), `seed ${seed}: a value outside 0..1`);
      assert.notDeepEqual(img, src);
      // The garment: the pixels that were part of it are still mostly bright, and outside it mostly not.
      let inside = 0, insideBright = 0;
      src.forEach((v, i) => {
        if (v > 0) {
          inside++;
          if (img[i] > 0.3) insideBright++;
        }
      });
      assert.ok(insideBright / inside > 0.75, `seed ${seed}: only ${insideBright} of ${inside} garment pixels stay bright`);
      // The top-left corner is far from the garment: anything there is clutter.
      let corner = 0;
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) corner = Math.max(corner, img[r * R + c]);
      if (corner > 0) {
        cluttered++;
        assert.ok(corner <= PHOTO.clutterLevel * 2 + PHOTO.clutterGrain, `seed ${seed}: corner ${corner} is brighter than clutter`);
      } else {
        const [y, x] = centroid(img);
        assert.ok(Math.hypot(y - cy, x - cx) < PHOTO.cornerPx + 0.5, `seed ${seed}: the garment moved from (${cy}, ${cx}) to (${y}, ${x})`);
      }
    }
    assert.ok(cluttered > 70 && cluttered < 130, `${cluttered} of 200 cluttered`);
  });

  it('is seeded: the same seed gives the same frame, another seed another', () => {
    const a = garment(), b = garment(), c = garment();
    photoDistort(a, 0, R, R, new Rng(11));
    photoDistort(b, 0, R, R, new Rng(11));
    photoDistort(c, 0, R, R, new Rng(12));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('works on one image of a batch without touching its neighbours', () => {
    const batch = new Float32Array(3 * SIZE);
    for (let i = 0; i < 3; i++) batch.set(garment(), i * SIZE);
    photoDistort(batch, SIZE, R, R, new Rng(5));
    assert.deepEqual(batch.subarray(0, SIZE), garment());
    assert.deepEqual(batch.subarray(2 * SIZE), garment());
    assert.notDeepEqual(batch.subarray(SIZE, 2 * SIZE), garment());
  });
});

describe('Gaussian blur', () => {
  it('spreads an impulse symmetrically, keeps its mass, and more with a larger sigma', () => {
    const impulse = new Float32Array(SIZE);
    impulse[14 * R + 14] = 1;
    const narrow = gaussianBlur(impulse, R, R, 0.5), wide = gaussianBlur(impulse, R, R, 1.5);
    for (const out of [narrow, wide]) {
      assert.ok(Math.abs(out.reduce((s, v) => s + v, 0) - 1) < 1e-5);
      assert.ok(Math.abs(out[13 * R + 14] - out[15 * R + 14]) < 1e-7);
      assert.ok(Math.abs(out[14 * R + 13] - out[13 * R + 14]) < 1e-7);
    }
    assert.ok(wide[14 * R + 14] < narrow[14 * R + 14]);
    assert.ok(wide[14 * R + 16] > narrow[14 * R + 16]);
  });

  it('leaves a flat image flat, edges included', () => {
    const flat = new Float32Array(SIZE).fill(0.4);
    assert.ok(gaussianBlur(flat, R, R, 1).every((v) => Math.abs(v - 0.4) < 1e-6));
  });
});
