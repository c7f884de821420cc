import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend/index.js';
import { customProjection } from '../../src/explain/embed/custom.js';
import type { DenseMatrix } from '../../src/explain/embed/types.js';
import { UserError } from '../../src/util/errors.js';

await initBackend('wasm');

const NAMES = ['Red shirt', 'Blue shirt', 'Coat', 'Boot'] as const;

/**
 * Four classes in 4-D with known centroids: each class has two points at centre ± offset, so its
 * centroid is exactly the centre. Centres: shirt(0) at origin, blue shirt(1) at e1, coat(2) at 2·e2, boot(3) at 3·e3 + e4.
 */
function fixture(): { x: DenseMatrix; labels: number[] } {
  const centres = [[0, 0, 0, 0], [1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 1]];
  const rows: number[][] = [];
  const labels: number[] = [];
  centres.forEach((c, k) => {
    for (const s of [1, -1]) {
      rows.push(c.map((v, j) => v + s * 0.1 * ((j + k) % 2 === 0 ? 1 : -1)));
      labels.push(k);
    }
  });
  return { x: { data: Float32Array.from(rows.flat()), rows: rows.length, cols: 4 }, labels };
}

test('x runs from the left centroid (0) to the right centroid (1)', () => {
  const { x, labels } = fixture();
  const r = customProjection(x, labels, { left: '^red', right: 'coat' }, 2, NAMES);
  // The centroid of class 0 maps to 0 and of class 2 to 1: the means of their points' x.
  const meanX = (k: number) => labels.reduce((s, l, i) => (l === k ? s + r.coords[i * 2] : s), 0) / 2;
  assert.ok(Math.abs(meanX(0)) < 1e-6);
  assert.ok(Math.abs(meanX(2) - 1) < 1e-6);
  // Blue shirt at e1 is orthogonal to the axis (0 → 2·e2): projects to 0.
  assert.ok(Math.abs(meanX(1)) < 1e-6);
  assert.deepEqual(r.summary.x.fromClasses, ['Red shirt']);
  assert.deepEqual(r.summary.x.toClasses, ['Coat']);
  assert.equal(r.summary.x.fromCount, 2);
  assert.equal(r.summary.filledBy, 'principal components of the residual');
  assert.equal(r.axes.length, 2);
});

test('a search matching several classes uses the centroid of all their points; --up/--down give y', () => {
  const { x, labels } = fixture();
  // "shirt" matches classes 0 and 1: centroid (0.5, 0, 0, 0). Right: boot at (0,0,3,1).
  const r = customProjection(x, labels, { left: 'shirt', right: 'boot', down: 'red', up: 'blue' }, 2, NAMES);
  const mean = (k: number, a: number) => labels.reduce((s, l, i) => (l === k ? s + r.coords[i * 2 + a] : s), 0) / 2;
  assert.ok(Math.abs((mean(0, 0) + mean(1, 0)) / 2) < 1e-6, 'shirts average to 0');
  assert.ok(Math.abs(mean(3, 0) - 1) < 1e-6, 'boot at 1');
  // y: red shirt (origin) -> blue shirt (e1).
  assert.ok(Math.abs(mean(0, 1)) < 1e-6);
  assert.ok(Math.abs(mean(1, 1) - 1) < 1e-6);
  // Coat (2·e2) is orthogonal to e1: y = 0.
  assert.ok(Math.abs(mean(2, 1)) < 1e-6);
  assert.deepEqual(r.summary.y?.toClasses, ['Blue shirt']);
  assert.equal(r.summary.filledBy, null);
});

test('other dimensions are filled by uncorrelated, centred principal components of the residual', () => {
  const { x, labels } = fixture();
  const r = customProjection(x, labels, { left: 'red', right: 'coat' }, 3, NAMES);
  assert.equal(r.coords.length, x.rows * 3);
  assert.deepEqual(r.axes.slice(1), ['residual PC1', 'residual PC2']);
  const col = (a: number) => Array.from({ length: x.rows }, (_, i) => r.coords[i * 3 + a]);
  const [p1, p2] = [col(1), col(2)];
  const mean = (v: number[]) => v.reduce((s, t) => s + t, 0) / v.length;
  assert.ok(Math.abs(mean(p1)) < 1e-6 && Math.abs(mean(p2)) < 1e-6);
  const cov = p1.reduce((s, v, i) => s + v * p2[i], 0);
  const var1 = p1.reduce((s, v) => s + v * v, 0);
  const var2 = p2.reduce((s, v) => s + v * v, 0);
  assert.ok(var1 >= var2 && var2 > 0);
  assert.ok(Math.abs(cov) < 1e-5 * var1, `covariance ${cov}`);
});

test('searches that match nothing, the same classes, or an invalid pattern are one-line errors', () => {
  const { x, labels } = fixture();
  assert.throws(() => customProjection(x, labels, { left: 'sandal', right: 'coat' }, 2, NAMES), (e: Error) => e instanceof UserError && /--left "sandal" matches no class \(classes: Red shirt, Blue shirt, Coat, Boot\)/.test(e.message));
  assert.throws(() => customProjection(x, labels, { left: 'coat', right: 'COAT' }, 2, NAMES), (e: Error) => e instanceof UserError && /match the same classes/.test(e.message));
  assert.throws(() => customProjection(x, labels, { left: '(', right: 'coat' }, 2, NAMES), (e: Error) => e instanceof UserError && /not a valid regular expression/.test(e.message));
  assert.throws(() => customProjection(x, labels, { left: 'red', right: 'coat', up: 'boot' }, 2, NAMES), (e: Error) => e instanceof UserError && /--up and --down go together/.test(e.message));
  // A class that exists but has no sampled point.
  assert.throws(() => customProjection(x, labels.map((l) => (l === 3 ? 2 : l)), { left: 'red', right: 'boot' }, 2, NAMES), (e: Error) => e instanceof UserError && /no sampled point/.test(e.message));
});
