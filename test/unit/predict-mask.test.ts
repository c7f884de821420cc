/** The small image operations the object finder is built from, on hand-made masks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { boxBlur, close, connectedComponents, dilate, erode, fillHoles, hysteresis, open, otsuThreshold } from '../../src/predict/mask.js';
import { topK } from '../../src/predict/index.js';
import { Rng } from '../../src/util/rng.js';

/** Parses rows like '.##.' into a 0/1 mask. */
function grid(rows: string[]): { mask: Uint8Array; width: number; height: number } {
  const width = rows[0].length;
  const mask = Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0));
  return { mask, width, height: rows.length };
}

function show(mask: Uint8Array, width: number): string[] {
  const rows: string[] = [];
  for (let i = 0; i < mask.length; i += width) rows.push(Array.from(mask.subarray(i, i + width), (v) => (v ? '#' : '.')).join(''));
  return rows;
}

test('Otsu splits a two-level picture between its levels', () => {
  const values = [...new Array(600).fill(20), ...new Array(400).fill(180)].map((v, i) => v + (i % 7) - 3);
  const t = otsuThreshold(values, 255);
  assert.ok(t > 25 && t < 175, `threshold ${t}`);
});

test('hysteresis keeps faint pixels joined to strong ones and drops isolated faint ones', () => {
  const values = Float32Array.from([
    0, 0, 0, 0, 0, 0, 0,
    0, 9, 5, 5, 0, 0, 5,
    0, 0, 0, 5, 0, 0, 0,
  ]);
  const mask = hysteresis(values, 7, 3, 4, 8);
  assert.deepEqual(show(mask, 7), ['.......', '.###...', '...#...']);
});

test('opening removes thin lines, closing bridges narrow gaps, holes get filled', () => {
  const thin = grid(['#.......', '#.####..', '#.####..', '#.####..', '#.####..', '#.......']);
  assert.deepEqual(show(open(thin.mask, thin.width, thin.height, 1), thin.width), ['........', '..####..', '..####..', '..####..', '..####..', '........']);
  const gap = grid(['........', '.##.##..', '.##.##..', '........']);
  assert.deepEqual(show(close(gap.mask, gap.width, gap.height, 1), gap.width), ['........', '.#####..', '.#####..', '........']);
  const ring = grid(['.....', '.###.', '.#.#.', '.###.', '.....']);
  assert.deepEqual(show(fillHoles(ring.mask, ring.width, ring.height), ring.width), ['.....', '.###.', '.###.', '.###.', '.....']);
  // A "hole" open to the border is background, not a hole.
  const cup = grid(['.#.#.', '.#.#.', '.###.']);
  assert.deepEqual(show(fillHoles(cup.mask, cup.width, cup.height), cup.width), ['.#.#.', '.#.#.', '.###.']);
});

test('connected components (8-connected) with areas and boxes', () => {
  const g = grid(['##....', '.#..##', '..#.##', '......']);
  const { components } = connectedComponents(g.mask, g.width, g.height);
  assert.deepEqual(
    components.map((c) => [c.area, c.box]),
    [
      [4, { x: 0, y: 0, width: 3, height: 3 }],
      [4, { x: 4, y: 1, width: 2, height: 2 }],
    ],
  );
});

test('box blur keeps a constant picture constant and averages a step', () => {
  const flat = boxBlur(new Float32Array(20).fill(7), 5, 4, 2);
  assert.ok(flat.every((v) => Math.abs(v - 7) < 1e-5));
  const step = boxBlur(Float32Array.from([0, 0, 0, 9, 9, 9]), 6, 1, 1);
  assert.deepEqual(Array.from(step, (v) => Math.round(v)), [0, 0, 3, 6, 9, 9]);
});

test('topK: best first, names attached, ties in class order', () => {
  const top = topK([0.1, 0.3, 0.05, 0.3, 0.25, 0, 0, 0, 0, 0], 3);
  assert.deepEqual(top.map((c) => [c.class, c.name]), [[1, 'Trouser'], [3, 'Dress'], [4, 'Coat']]);
});

/** The square filter by definition: every pixel of the (2r+1)^2 window inside the image, scanned. */
function bruteSquare(mask: Uint8Array, w: number, h: number, r: number, dilating: boolean): Uint8Array {
  const out = new Uint8Array(mask.length);
  const hit = dilating ? 1 : 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let found = false;
      for (let dy = -r; dy <= r && !found; dy++) {
        for (let dx = -r; dx <= r && !found; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy >= 0 && xx >= 0 && yy < h && xx < w && mask[yy * w + xx] === hit) found = true;
        }
      }
      out[y * w + x] = found ? hit : 1 - hit;
    }
  }
  return out;
}

test('dilation and erosion (running counts) equal the square window scanned pixel by pixel', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (w, h, r, seed) => {
      const rng = new Rng(seed);
      const density = rng.next();
      const mask = Uint8Array.from({ length: w * h }, () => (rng.next() < density ? 1 : 0));
      assert.deepEqual(dilate(mask, w, h, r), bruteSquare(mask, w, h, r, true));
      assert.deepEqual(erode(mask, w, h, r), bruteSquare(mask, w, h, r, false));
    }),
    { numRuns: 300, seed: 7 },
  );
});
