import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend/index.js';
import { exactKnn } from '../../src/explain/embed/knn.js';
import { knnLabelAgreement } from '../../src/explain/embed/quality.js';
import { conditionalAffinities, GradientWorkspace, perplexityAffinities, runTsne, tsneGradient, type SparseAffinities } from '../../src/explain/embed/tsne.js';
import { SpaceTree } from '../../src/explain/embed/spacetree.js';
import { Rng } from '../../src/util/rng.js';
import { gaussianBlobs } from '../helpers/blobs.js';

await initBackend('wasm');

const blobs = gaussianBlobs;


test('perplexity calibration: every conditional distribution has entropy log(perplexity) and sums to 1', () => {
  const { x } = blobs(3, 40, 10, 'calib');
  const g = exactKnn(x, 45);
  for (const perplexity of [5, 15]) {
    const cond = conditionalAffinities(g, perplexity);
    for (let i = 0; i < g.n; i++) {
      let sum = 0;
      let h = 0;
      for (let t = 0; t < g.k; t++) {
        const p = cond[i * g.k + t];
        sum += p;
        if (p > 0) h -= p * Math.log(p);
      }
      assert.ok(Math.abs(sum - 1) < 1e-9);
      assert.ok(Math.abs(Math.exp(h) - perplexity) < 1e-3 * perplexity, `row ${i}: perplexity ${Math.exp(h)} vs ${perplexity}`);
    }
  }
});

test('joint affinities are symmetric, sum to 1, and have no self pairs', () => {
  const { x } = blobs(3, 30, 5, 'sym');
  const P = perplexityAffinities(exactKnn(x, 30), 10);
  const dense = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < P.n; i++) {
    for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) {
      assert.notEqual(P.cols[e], i);
      if (e > P.rowPtr[i]) assert.ok(P.cols[e] > P.cols[e - 1], 'columns sorted and unique');
      dense.set(`${i},${P.cols[e]}`, P.vals[e]);
      total += P.vals[e];
    }
  }
  assert.ok(Math.abs(total - 1) < 1e-12);
  for (const [key, v] of dense) {
    const [i, j] = key.split(',');
    assert.equal(dense.get(`${j},${i}`), v);
  }
});

/** The exact O(N²) gradient, straight from the formula. */
function bruteGradient(P: SparseAffinities, y: Float64Array, exag: number): Float64Array {
  const n = P.n;
  const grad = new Float64Array(3 * n);
  const pd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) pd[i * n + P.cols[e]] = P.vals[e];
  let z = 0;
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const d2 = (y[3 * i] - y[3 * j]) ** 2 + (y[3 * i + 1] - y[3 * j + 1]) ** 2 + (y[3 * i + 2] - y[3 * j + 2]) ** 2;
      w[i * n + j] = 1 / (1 + d2);
      z += w[i * n + j];
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const m = (exag * pd[i * n + j] - w[i * n + j] / z) * w[i * n + j];
      for (let d = 0; d < 3; d++) grad[3 * i + d] += m * (y[3 * i + d] - y[3 * j + d]);
    }
  }
  return grad;
}

test('Barnes-Hut gradient: exact at theta 0, within a few percent at theta 0.5, in 2-D and 3-D', () => {
  const { x } = blobs(4, 50, 8, 'grad');
  const P = perplexityAffinities(exactKnn(x, 30), 10);
  const rng = new Rng('layout');
  for (const dims of [2, 3]) {
    const y = new Float64Array(3 * P.n);
    for (let i = 0; i < P.n; i++) for (let d = 0; d < dims; d++) y[3 * i + d] = rng.normal() * 5;
    const exact = bruteGradient(P, y, 4);
    const norm = Math.sqrt(exact.reduce((s, v) => s + v * v, 0));
    const ws = new GradientWorkspace(P.n);
    for (const [theta, tol] of [[0, 1e-10], [0.5, 0.05]] as const) {
      const g = new Float64Array(3 * P.n);
      tsneGradient(P, y, 4, theta, ws, g);
      const err = Math.sqrt(g.reduce((s, v, e) => s + (v - exact[e]) ** 2, 0));
      assert.ok(err / norm < tol, `${dims}-D theta ${theta}: relative error ${err / norm}`);
    }
  }
});

test('the space tree keeps every point once, with correct counts and centres of mass, even with duplicates', () => {
  const n = 300;
  const rng = new Rng('tree');
  const y = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) y[3 * i + d] = i < 20 ? 1.5 : rng.normal(); // 20 identical points
  const tree = new SpaceTree(n);
  tree.build(y);
  const seen = new Set(tree.order);
  assert.equal(seen.size, n);
  assert.equal(tree.count[0], n);
  let leafPoints = 0;
  for (let nd = 0; nd < tree.nodes; nd++) {
    if (tree.firstChild[nd] < 0) leafPoints += tree.count[nd];
    else {
      let c = 0;
      for (let ch = tree.firstChild[nd]; ch < tree.firstChild[nd] + tree.childCount[nd]; ch++) c += tree.count[ch];
      assert.equal(c, tree.count[nd]);
    }
  }
  assert.equal(leafPoints, n);
  const mean = [0, 0, 0];
  for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) mean[d] += y[3 * i + d] / n;
  assert.ok(Math.abs(tree.comX[0] - mean[0]) < 1e-12 && Math.abs(tree.comY[0] - mean[1]) < 1e-12 && Math.abs(tree.comZ[0] - mean[2]) < 1e-12);
});

test('t-SNE separates well-separated clusters, lowers the divergence, and is deterministic by seed', () => {
  const { x, labels } = blobs(5, 60, 20, 'sep');
  const P = perplexityAffinities(exactKnn(x, 45), 15);
  const run = (seed: number, iterations = 400) => runTsne(P, { dims: 2, iterations, seed });
  const a = run(1);
  const b = run(1);
  const c = run(2);
  assert.deepEqual(a.coords, b.coords);
  assert.notDeepEqual(a.coords, c.coords);
  const short = run(1, 260);
  assert.ok(a.kl < short.kl, `KL after 400 iterations ${a.kl} < after 260 ${short.kl}`);
  const agreement = knnLabelAgreement(exactKnn({ data: Float32Array.from(a.coords), rows: P.n, cols: 2 }, 10), labels).mean;
  assert.ok(agreement > 0.97, `10-NN agreement ${agreement}`);
  for (const v of a.coords) assert.ok(Number.isFinite(v));
});

test('t-SNE in 3-D uses the third dimension; a PCA start gives the same layout whatever the seed', () => {
  const { x, labels } = blobs(4, 50, 10, '3d');
  const P = perplexityAffinities(exactKnn(x, 30), 10);
  const r = runTsne(P, { dims: 3, iterations: 300, seed: 3 });
  assert.equal(r.coords.length, P.n * 3);
  let zVar = 0;
  for (let i = 0; i < P.n; i++) zVar += r.coords[3 * i + 2] ** 2;
  assert.ok(zVar / P.n > 1e-2, 'third coordinate spread');
  const agreement = knnLabelAgreement(exactKnn({ data: Float32Array.from(r.coords), rows: P.n, cols: 3 }, 10), labels).mean;
  assert.ok(agreement > 0.95);
  const init = new Float64Array(P.n * 3).map((_, e) => Math.sin(e));
  const p1 = runTsne(P, { dims: 3, iterations: 50, init, seed: 1 });
  const p2 = runTsne(P, { dims: 3, iterations: 50, init, seed: 2 });
  assert.deepEqual(p1.coords, p2.coords);
});
