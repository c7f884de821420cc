import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PCA } from 'ml-pca';
import { initBackend } from '../../src/backend/index.js';
import { explainedVariance, fitPca, projectPca } from '../../src/explain/embed/pca.js';
import type { DenseMatrix } from '../../src/explain/embed/types.js';
import { Rng } from '../../src/util/rng.js';

await initBackend('wasm');

/** Points ±a·e_k for each axis k: their covariance is diagonal with known entries. */
function axisCross(scales: number[]): DenseMatrix {
  const d = scales.length;
  const rows: number[][] = [];
  scales.forEach((s, k) => {
    for (const sign of [1, -1]) {
      const r = new Array(d).fill(0);
      r[k] = sign * s;
      rows.push(r);
    }
  });
  return { data: Float32Array.from(rows.flat()), rows: rows.length, cols: d };
}

/** n points with a random orthogonal basis and decaying variances (D dims). */
function anisotropic(n: number, d: number, seed: string): DenseMatrix {
  const rng = new Rng(seed);
  const data = new Float32Array(n * d);
  const scales = Array.from({ length: d }, (_, k) => 3 / (1 + k) ** 0.8);
  // Mix the axes with a fixed random rotation-ish matrix so the components are not the coordinate axes.
  const mix = Array.from({ length: d }, () => Array.from({ length: d }, () => rng.normal() / Math.sqrt(d)));
  for (let i = 0; i < n; i++) {
    const z = scales.map((s) => s * rng.normal());
    for (let j = 0; j < d; j++) {
      let v = 0.5;
      for (let k = 0; k < d; k++) v += mix[j][k] * z[k];
      data[i * d + j] = v;
    }
  }
  return { data, rows: n, cols: d };
}

/** ml-pca's decomposition of the same points, the reference the solvers are checked against. */
function mlPca(x: DenseMatrix): PCA {
  const rows: number[][] = [];
  for (let i = 0; i < x.rows; i++) rows.push(Array.from(x.data.subarray(i * x.cols, (i + 1) * x.cols)));
  return new PCA(rows, { method: 'covarianceMatrix' });
}

test('PCA recovers a known decomposition: axis-aligned variances, in order, with unit eigenvectors', () => {
  const scales = [1, 5, 2, 3];
  const x = axisCross(scales);
  const fit = fitPca(x, { top: 4 });
  const n = x.rows;
  // Variance along axis k: 2 s_k^2 / (n - 1).
  const expected = scales.map((s) => (2 * s * s) / (n - 1)).sort((a, b) => b - a);
  fit.eigenvalues.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5 * expected[0], `eigenvalue ${i}: ${v} vs ${expected[i]}`));
  // The top component is the axis with scale 5 (index 1), sign fixed positive.
  assert.ok(Math.abs(fit.vectors[0][1] - 1) < 1e-6);
  assert.ok(Math.abs(fit.vectors[1][3] - 1) < 1e-6);
  const coords = projectPca(x, fit, [0]);
  // The point +5·e_1 projects to 5 on PC1.
  assert.ok(Math.abs(coords[2] - 5) < 1e-5);
  assert.ok(Math.abs(fit.totalVariance - expected.reduce((a, b) => a + b)) < 1e-5);
});

test('explained variance: shares of all components sum to 1; top-k shares are the eigenvalues over the trace', () => {
  const x = anisotropic(400, 12, 'ev');
  const all = fitPca(x, { top: 12 });
  const shares = explainedVariance(all);
  assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  for (let i = 1; i < shares.length; i++) assert.ok(shares[i] <= shares[i - 1] + 1e-12, 'descending');
  const top = fitPca(x, { top: 10 });
  const ev = explainedVariance(top);
  assert.equal(ev.length, 10);
  ev.forEach((v, i) => assert.ok(Math.abs(v - shares[i]) < 1e-9));
  assert.ok(ev.reduce((a, b) => a + b) < 1);
});

test('both solvers agree with ml-pca (eigenvalues and eigenvectors) on 300-dimensional data', () => {
  const n = 600;
  const d = 300;
  const x = anisotropic(n, d, 'vs-ml-pca');
  const ref = mlPca(x);
  const refValues = ref.getEigenvalues();
  const refVectors = ref.getEigenvectors();
  for (const solver of ['full-eigen', 'subspace-iteration'] as const) {
    const fit = fitPca(x, { top: 10, solver });
    assert.equal(fit.method, solver);
    for (let c = 0; c < 10; c++) {
      const rel = Math.abs(fit.eigenvalues[c] - refValues[c]) / refValues[c];
      assert.ok(rel < 1e-4, `${solver} eigenvalue ${c}: ${fit.eigenvalues[c]} vs ${refValues[c]}`);
      let dot = 0;
      for (let j = 0; j < d; j++) dot += fit.vectors[c][j] * refVectors.get(j, c);
      assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-3, `${solver} eigenvector ${c}: |cos| = ${Math.abs(dot)}`);
    }
    const refShares = ref.getExplainedVariance().slice(0, 10);
    explainedVariance(fit).forEach((v, i) => assert.ok(Math.abs(v - refShares[i]) < 1e-5));
  }
});

test('fewer points than dimensions: the Gram-matrix solver, chosen by default, agrees with ml-pca and with the full decomposition', () => {
  const n = 60;
  const d = 300;
  const x = anisotropic(n, d, 'dual');
  const ref = mlPca(x);
  const refValues = ref.getEigenvalues();
  const refVectors = ref.getEigenvectors();
  const fit = fitPca(x, { top: 10 });
  assert.equal(fit.method, 'dual-gram');
  const full = fitPca(x, { top: 10, solver: 'full-eigen' });
  assert.ok(Math.abs(fit.totalVariance - full.totalVariance) / full.totalVariance < 1e-6, `${fit.totalVariance} vs ${full.totalVariance}`);
  for (let c = 0; c < 10; c++) {
    assert.ok(Math.abs(fit.eigenvalues[c] - refValues[c]) / refValues[c] < 1e-4, `eigenvalue ${c}: ${fit.eigenvalues[c]} vs ${refValues[c]}`);
    let cos = 0;
    let same = 0;
    for (let j = 0; j < d; j++) {
      cos += fit.vectors[c][j] * refVectors.get(j, c);
      same += fit.vectors[c][j] * full.vectors[c][j];
    }
    assert.ok(Math.abs(Math.abs(cos) - 1) < 1e-3, `eigenvector ${c}: |cos| = ${Math.abs(cos)}`);
    assert.ok(same > 1 - 1e-3, `eigenvector ${c} has the full decomposition's sign: cos = ${same}`);
  }
  // Too few points for ten components with a direction each: the covariance's own solvers.
  assert.equal(fitPca(anisotropic(11, d, 'few'), { top: 10 }).method, 'subspace-iteration');
});

test('projection coordinates are centred and their variances are the eigenvalues', () => {
  const x = anisotropic(500, 20, 'proj');
  const fit = fitPca(x, { top: 3 });
  const c = projectPca(x, fit, [0, 1, 2]);
  for (let a = 0; a < 3; a++) {
    let m = 0;
    for (let i = 0; i < x.rows; i++) m += c[i * 3 + a];
    m /= x.rows;
    let v = 0;
    for (let i = 0; i < x.rows; i++) v += (c[i * 3 + a] - m) ** 2;
    v /= x.rows - 1;
    assert.ok(Math.abs(m) < 1e-4);
    assert.ok(Math.abs(v - fit.eigenvalues[a]) / fit.eigenvalues[a] < 1e-3);
  }
});
