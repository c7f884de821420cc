import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARTICLE_AUGMENTATION, augmentBatch, randomAffine, warpImage, type Affine } from '../../src/train/augment.js';
import { Rng } from '../../src/util/rng.js';

const R = 28;
function blob(): Float32Array {
  const img = new Float32Array(R * R);
  for (let r = 8; r < 20; r++) for (let c = 10; c < 18; c++) img[r * R + c] = 1;
  return img;
}

test('identity transform leaves an image unchanged', () => {
  const src = blob();
  const dst = new Float32Array(R * R);
  warpImage(src, 0, dst, 0, R, R, [1, 0, 0, 0, 1, 0]);
  assert.deepEqual(dst, src);
});

test('a pure shift moves content by that many pixels and fills edges with the nearest pixel', () => {
  const src = new Float32Array(R * R);
  for (let r = 0; r < R; r++) for (let c = 0; c < R; c++) src[r * R + c] = c / (R - 1);
  const dst = new Float32Array(R * R);
  const shiftCols: Affine = [1, 0, 0, 0, 1, 3]; // out(r,c) = in(r, c+3)
  warpImage(src, 0, dst, 0, R, R, shiftCols);
  assert.ok(Math.abs(dst[5 * R + 0] - 3 / (R - 1)) < 1e-6);
  assert.equal(dst[5 * R + R - 1], 1, 'beyond the right edge the edge value is repeated');
});

test('augmentation is seeded: the same seed gives the same batch, another seed another', () => {
  const n = 4;
  const x = new Float32Array(n * R * R);
  for (let i = 0; i < n; i++) x.set(blob(), i * R * R);
  const a = augmentBatch(x, n, R, R, ARTICLE_AUGMENTATION, new Rng(7));
  const b = augmentBatch(x, n, R, R, ARTICLE_AUGMENTATION, new Rng(7));
  const c = augmentBatch(x, n, R, R, ARTICLE_AUGMENTATION, new Rng(8));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(a, x, 'augmentation changes the pixels');
});

test('random transforms stay within the configured ranges and preserve the object', () => {
  const rng = new Rng(1);
  for (let i = 0; i < 200; i++) {
    const m = randomAffine(ARTICLE_AUGMENTATION, rng, R, R);
    // translation at most 0.08 * 28 px; linear part close to a rotation of at most 8 degrees with zoom 0.92..1.08
    assert.ok(Math.abs(m[2]) <= 0.08 * R * 1.2 + 1e-9 && Math.abs(m[5]) <= 0.08 * R * 1.2 + 1e-9);
    const det = m[0] * m[4] - m[1] * m[3];
    assert.ok(det > 0.92 * 0.92 - 0.01 && det < 1.08 * 1.08 + 0.01, `determinant ${det}`);
  }
  // A warped blob keeps most of its mass (label-preserving: the item stays in frame and recognisable).
  const src = blob();
  const mass = src.reduce((a, b) => a + b, 0);
  const out = augmentBatch(src, 1, R, R, ARTICLE_AUGMENTATION, new Rng(3));
  const outMass = out.reduce((a, b) => a + b, 0);
  assert.ok(outMass > 0.75 * mass && outMass < 1.3 * mass, `mass ${outMass} vs ${mass}`);
});

test('radians make the article-era shear much stronger than degrees', () => {
  const shearOnly = { ...ARTICLE_AUGMENTATION, rotationDeg: 0, widthShift: 0, heightShift: 0, zoom: 0 };
  let maxDeg = 0, maxRad = 0;
  const r1 = new Rng(5), r2 = new Rng(5);
  for (let i = 0; i < 100; i++) {
    maxDeg = Math.max(maxDeg, Math.abs(randomAffine({ ...shearOnly, shearUnit: 'degrees' }, r1, R, R)[1]));
    maxRad = Math.max(maxRad, Math.abs(randomAffine({ ...shearOnly, shearUnit: 'radians' }, r2, R, R)[1]));
  }
  assert.ok(maxDeg < Math.sin((0.3 * Math.PI) / 180) + 1e-9);
  assert.ok(maxRad > 0.2 && maxRad <= Math.sin(0.3) + 1e-9);
});

test('nearest sampling (the article\'s Keras) only copies source pixels, so augmented images stay sharp', () => {
  const src = new Float32Array(R * R);
  for (let i = 0; i < src.length; i++) src[i] = (i * 37 % 101) / 100;
  const values = new Set(src);
  const near = augmentBatch(src, 1, R, R, { ...ARTICLE_AUGMENTATION, interpolation: 'nearest' }, new Rng(4));
  const bil = augmentBatch(src, 1, R, R, { ...ARTICLE_AUGMENTATION, interpolation: 'bilinear' }, new Rng(4));
  assert.ok(near.every((v) => values.has(v)), 'every nearest-sampled value is a source pixel');
  assert.ok(bil.some((v) => !values.has(v)), 'bilinear sampling mixes neighbours');
});

test('an integer shift gives the same image with either sampling', () => {
  const src = blob();
  const shift: Affine = [1, 0, -2, 0, 1, 3];
  const a = new Float32Array(R * R), b = new Float32Array(R * R);
  warpImage(src, 0, a, 0, R, R, shift, 'nearest');
  warpImage(src, 0, b, 0, R, R, shift, 'bilinear');
  assert.deepEqual(a, b);
});

test('rotation turns about Keras\'s centre (size / 2 + 0.5), not the geometric one', () => {
  const src = new Float32Array(R * R);
  for (let i = 0; i < src.length; i++) src[i] = i;
  const dst = new Float32Array(R * R);
  warpImage(src, 0, dst, 0, R, R, [-1, 0, 0, 0, -1, 0], 'nearest'); // 180 degrees
  // out(r, c) = in(29 - r, 29 - c), clamped to the image: Keras's o = 14.5 for 28 pixels.
  for (const [r, c] of [[2, 3], [10, 20], [5, 1], [1, 1]]) {
    const sr = Math.min(R - 1, 29 - r), sc = Math.min(R - 1, 29 - c);
    assert.equal(dst[r * R + c], src[sr * R + sc], `pixel ${r},${c}`);
  }
});
