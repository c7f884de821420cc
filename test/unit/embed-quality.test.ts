import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend/index.js';
import { computeEmbedding } from '../../src/explain/embed/compute.js';
import { exactKnn, truncateKnn } from '../../src/explain/embed/knn.js';
import { embedQuality, knnLabelAgreement, neighbourhoodPreserved } from '../../src/explain/embed/quality.js';
import { stratifiedQuotas, stratifiedSample } from '../../src/explain/embed/sample.js';
import type { KnnGraph } from '../../src/explain/embed/types.js';
import { CLASS_NAMES } from '../../src/data/types.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { gaussianBlobs } from '../helpers/blobs.js';

await initBackend('wasm');

const clustered = (classes: number, perClass: number, d: number, spread: number, seed: string) => gaussianBlobs(classes, perClass, d, seed, spread);


test('exact kNN matches brute force, excludes the point itself, and sorts by distance', () => {
  const { x } = clustered(3, 40, 7, 2, 'knn');
  const g = exactKnn(x, 8);
  for (let i = 0; i < x.rows; i++) {
    const d = [];
    for (let j = 0; j < x.rows; j++) {
      if (j === i) continue;
      let s = 0;
      for (let c = 0; c < x.cols; c++) s += (x.data[i * x.cols + c] - x.data[j * x.cols + c]) ** 2;
      d.push({ j, dist: Math.sqrt(s) });
    }
    d.sort((a, b) => a.dist - b.dist);
    for (let t = 0; t < 8; t++) {
      assert.notEqual(g.indices[i * 8 + t], i);
      assert.ok(Math.abs(g.distances[i * 8 + t] - d[t].dist) < 1e-3 * (1 + d[t].dist), `row ${i} rank ${t}`);
      if (t > 0) assert.ok(g.distances[i * 8 + t] >= g.distances[i * 8 + t - 1]);
    }
  }
  const g3 = truncateKnn(g, 3);
  assert.deepEqual(Array.from(g3.indices.subarray(0, 3)), Array.from(g.indices.subarray(0, 3)));
});

test('label agreement on a hand-made graph', () => {
  // 4 points, labels 0 0 1 1; neighbours chosen by hand.
  const g: KnnGraph = { n: 4, k: 2, indices: Int32Array.from([1, 2, 0, 3, 3, 0, 2, 1]), distances: new Float32Array(8) };
  const r = knnLabelAgreement(g, [0, 0, 1, 1]);
  // point 0: {1 same, 2 diff} = .5; point 1: {0 same, 3 diff} = .5; point 2: {3 same, 0 diff} = .5; point 3: {2 same, 1 diff} = .5
  assert.equal(r.mean, 0.5);
  assert.deepEqual(r.perClass.slice(0, 2), [0.5, 0.5]);
  assert.equal(knnLabelAgreement(g, [0, 0, 1, 1], 1).mean, 1);
  assert.equal(neighbourhoodPreserved(g, g), 1);
});

test('quality on a synthetic clustered set: separated clusters agree fully, overlapping ones near chance', () => {
  const sep = clustered(5, 40, 10, 0.5, 'sep');
  assert.equal(knnLabelAgreement(exactKnn(sep.x, 10), sep.labels).mean, 1);
  const mixed = clustered(5, 80, 10, 0.5, 'mixed');
  const shuffled = new Rng('labels').shuffle(Uint8Array.from(mixed.labels));
  const chance = knnLabelAgreement(exactKnn(mixed.x, 10), shuffled).mean;
  assert.ok(chance > 0.1 && chance < 0.35, `shuffled labels: ${chance}`);
  const q = embedQuality(exactKnn(sep.x, 10), exactKnn(sep.x, 10), sep.labels);
  assert.equal(q.neighbourhoodPreserved, 1);
});

test('computeEmbedding reports quality for every method; projections of clusters keep them apart', async () => {
  const { x, labels } = clustered(4, 50, 12, 1, 'all');
  for (const method of ['pca', 'tsne', 'umap', 'custom'] as const) {
    const r = await computeEmbedding(x, labels, {
      method,
      dims: 2,
      seed: 5,
      classNames: CLASS_NAMES,
      iterations: 300,
      perplexity: 10,
      epochs: 100,
      custom: { left: '^T-shirt', right: '^Trouser' },
    });
    assert.equal(r.projection.coords.length, x.rows * 2);
    assert.equal(r.quality.k, 10);
    assert.equal(r.quality.original, 1);
    assert.ok(r.quality.projection > 0.6, `${method}: ${r.quality.projection}`);
    assert.ok(r.timings.projection.seconds >= 0 && r.timings.knn.cpuSeconds >= 0);
  }
});

test('UMAP is deterministic by seed', async () => {
  const { x, labels } = clustered(3, 40, 8, 1, 'umap');
  const run = (seed: number) => computeEmbedding(x, labels, { method: 'umap', dims: 3, seed, classNames: CLASS_NAMES, epochs: 60 });
  const a = await run(1);
  const b = await run(1);
  const c = await run(2);
  assert.deepEqual(a.projection.coords, b.projection.coords);
  assert.notDeepEqual(a.projection.coords, c.projection.coords);
  assert.equal(a.projection.dims, 3);
});

test('bad options give one clear line', async () => {
  const { x, labels } = clustered(3, 10, 4, 1, 'bad');
  await assert.rejects(computeEmbedding(x, labels, { method: 'tsne', dims: 2, seed: 1, classNames: CLASS_NAMES }), (e: Error) => e instanceof UserError && /perplexity 30 is too large for 30 points/.test(e.message));
  await assert.rejects(computeEmbedding(x, labels, { method: 'pca', dims: 2, seed: 1, classNames: CLASS_NAMES, components: [1, 11] }), UserError);
  await assert.rejects(computeEmbedding(x, labels, { method: 'pca', dims: 3, seed: 1, classNames: CLASS_NAMES, components: [1, 2] }), UserError);
  await assert.rejects(computeEmbedding(x, labels, { method: 'umap', dims: 2, seed: 1, classNames: CLASS_NAMES, neighbors: 40 }), UserError);
});

test('the sample is stratified, seeded, sorted and without repeats', () => {
  const labels = new Uint8Array(1000);
  for (let i = 0; i < 1000; i++) labels[i] = i < 500 ? 0 : 1 + (i % 4); // class 0 holds half
  const s = stratifiedSample(labels, 100, 7, 5);
  assert.equal(s.length, 100);
  assert.equal(new Set(s).size, 100);
  for (let i = 1; i < s.length; i++) assert.ok(s[i] > s[i - 1]);
  const perClass = [0, 0, 0, 0, 0];
  for (const p of s) perClass[labels[p]]++;
  assert.deepEqual(perClass, [50, 13, 13, 12, 12]);
  assert.deepEqual(stratifiedSample(labels, 100, 7, 5), s);
  assert.notDeepEqual(stratifiedSample(labels, 100, 8, 5), s);
  assert.deepEqual(stratifiedQuotas([3, 3, 3], 7), [3, 2, 2]);
  assert.deepEqual(stratifiedQuotas([1, 10], 5), [0, 5]); // largest remainder: 0.45 vs 4.55
  assert.deepEqual(stratifiedQuotas([2, 10], 12), [2, 10]);
  assert.throws(() => stratifiedSample(labels, 1001, 1, 5), UserError);
});
