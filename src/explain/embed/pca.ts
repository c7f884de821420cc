/**
 * Exact principal component analysis: the covariance matrix (one matmul on the TF.js backend),
 * then its top eigenpairs. Small dimensions use ml-matrix's full symmetric eigen-decomposition;
 * for large ones (784 pixels) that takes ~8 s of JavaScript, so the top components come from
 * subspace iteration with Rayleigh-Ritz, run until every wanted eigenpair's residual
 * |C u - λ u| is below 1e-10·λ₁ (exact to float64 round-off; the tests check it against ml-pca).
 * Fewer points than dimensions (200 photos of 784 pixels) have at most n - 1 nonzero components:
 * the n x n Gram matrix of the centred points has the same nonzero eigenvalues, and Xᵀv gives the
 * eigenvectors, so a full decomposition of that small matrix replaces the slow iteration.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { Rng } from '../../util/rng.js';
import { centered, columnMeans, gram } from './linalg.js';
import type { DenseMatrix } from './types.js';

export const PCA_TOP = 10;
/** Above this many dimensions, use subspace iteration rather than a full eigen-decomposition. */
const FULL_EIGEN_MAX_DIM = 256;
const RESIDUAL_TOL = 1e-10;
const MAX_SUBSPACE_ITERATIONS = 2000;

export interface PcaFit {
  dim: number;
  mean: Float64Array;
  /** Top eigenvalues of the covariance, descending. */
  eigenvalues: number[];
  /** The matching unit eigenvectors, each of length `dim`. */
  vectors: Float64Array[];
  /** Trace of the covariance = total variance. */
  totalVariance: number;
  method: PcaSolver;
  /** Subspace iterations used (0 for the other solvers). */
  iterations: number;
}

export interface PcaOptions {
  top?: number;
  /** Force a solver (tests). */
  solver?: PcaSolver;
}

export type PcaSolver = 'full-eigen' | 'subspace-iteration' | 'dual-gram';

/** Sample covariance (divided by n - 1, as ml-pca and numpy do), float64 row-major. */
export function covariance(x: DenseMatrix, mean = columnMeans(x)): Float64Array {
  const c = gram(centered(x, mean));
  const denom = Math.max(1, x.rows - 1);
  for (let i = 0; i < c.length; i++) c[i] /= denom;
  // The float32 product is symmetric only up to round-off; the solvers assume exact symmetry.
  const d = x.cols;
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const v = (c[i * d + j] + c[j * d + i]) / 2;
      c[i * d + j] = v;
      c[j * d + i] = v;
    }
  }
  return c;
}

export function fitPca(x: DenseMatrix, opts: PcaOptions = {}): PcaFit {
  const d = x.cols;
  const top = Math.min(opts.top ?? PCA_TOP, d);
  const mean = columnMeans(x);
  const solver = opts.solver ?? defaultSolver(x.rows, d, top);
  if (solver === 'dual-gram') {
    const { values, vectors, totalVariance } = dualEigen(x, mean, top);
    vectors.forEach(fixSign);
    return { dim: d, mean, eigenvalues: values, vectors, totalVariance, method: solver, iterations: 0 };
  }
  const cov = covariance(x, mean);
  let totalVariance = 0;
  for (let i = 0; i < d; i++) totalVariance += cov[i * d + i];
  let pairs: { values: number[]; vectors: Float64Array[]; iterations: number } | null = null;
  if (solver === 'subspace-iteration') pairs = subspaceEigen(cov, d, top);
  const method = pairs ? 'subspace-iteration' : 'full-eigen';
  pairs ??= { ...fullEigen(cov, d, top), iterations: 0 };
  pairs.vectors.forEach(fixSign);
  return { dim: d, mean, eigenvalues: pairs.values, vectors: pairs.vectors, totalVariance, method, iterations: pairs.iterations };
}

/**
 * Few dimensions: a full decomposition. Fewer points than dimensions, and more than the wanted
 * components (so that each has a nonzero eigenvalue, and its vector a direction): the Gram matrix.
 */
function defaultSolver(n: number, d: number, top: number): PcaSolver {
  if (d <= FULL_EIGEN_MAX_DIM) return 'full-eigen';
  return n < d && n <= FULL_EIGEN_MAX_DIM && n > top + 1 ? 'dual-gram' : 'subspace-iteration';
}

/** Top eigenpairs of the covariance from the n x n Gram matrix of the centred points (float64). */
function dualEigen(x: DenseMatrix, mean: Float64Array, top: number): { values: number[]; vectors: Float64Array[]; totalVariance: number } {
  const { rows: n, cols: d } = x;
  const c = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) c[i * d + j] = x.data[i * d + j] - mean[j];
  const k = new Float64Array(n * n);
  const denom = Math.max(1, n - 1);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += c[a * d + j] * c[b * d + j];
      k[a * n + b] = s / denom;
      k[b * n + a] = s / denom;
    }
  }
  let totalVariance = 0;
  for (let a = 0; a < n; a++) totalVariance += k[a * n + a];
  const small = fullEigen(k, n, top);
  const vectors = small.vectors.map((v) => {
    const u = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      if (v[i] === 0) continue;
      for (let j = 0; j < d; j++) u[j] += v[i] * c[i * d + j];
    }
    const norm = Math.sqrt(dot(u, u));
    if (norm > 0) for (let j = 0; j < d; j++) u[j] /= norm;
    return u;
  });
  return { values: small.values, vectors, totalVariance };
}

/** Coordinates of every point on the given (0-based) components. */
export function projectPca(x: DenseMatrix, fit: PcaFit, components: number[]): Float32Array {
  const d = x.cols;
  const out = new Float32Array(x.rows * components.length);
  const vecs = components.map((c) => {
    if (c < 0 || c >= fit.vectors.length) throw new RangeError(`component ${c + 1} was not computed`);
    return fit.vectors[c];
  });
  const row = new Float64Array(d);
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < d; j++) row[j] = x.data[i * d + j] - fit.mean[j];
    vecs.forEach((v, a) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += row[j] * v[j];
      out[i * components.length + a] = s;
    });
  }
  return out;
}

/** Each component's share of the total variance. */
export function explainedVariance(fit: PcaFit): number[] {
  return fit.eigenvalues.map((v) => (fit.totalVariance > 0 ? v / fit.totalVariance : 0));
}

/** Eigenvectors are defined up to sign: make the largest-magnitude entry positive, for stable output. */
function fixSign(v: Float64Array): void {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]) > Math.abs(v[best]) + 1e-12) best = i;
  if (v[best] < 0) for (let i = 0; i < v.length; i++) v[i] = -v[i];
}

function fullEigen(cov: Float64Array, d: number, top: number): { values: number[]; vectors: Float64Array[] } {
  const rows: number[][] = [];
  for (let i = 0; i < d; i++) rows.push(Array.from(cov.subarray(i * d, (i + 1) * d)));
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const vecs = evd.eigenvectorMatrix;
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v).slice(0, top);
  return {
    values: order.map((o) => Math.max(0, o.v)),
    vectors: order.map((o) => Float64Array.from(vecs.getColumn(o.i))),
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Modified Gram-Schmidt, twice (enough for full float64 orthogonality); replaces dependent vectors by fresh random ones. */
function orthonormalize(vs: Float64Array[], rng: Rng): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let a = 0; a < vs.length; a++) {
      const v = vs[a];
      for (let b = 0; b < a; b++) {
        const p = dot(v, vs[b]);
        const u = vs[b];
        for (let i = 0; i < v.length; i++) v[i] -= p * u[i];
      }
      let norm = Math.sqrt(dot(v, v));
      if (norm < 1e-300) {
        for (let i = 0; i < v.length; i++) v[i] = rng.normal();
        a--; // redo this vector against the earlier ones
        continue;
      }
      norm = 1 / norm;
      for (let i = 0; i < v.length; i++) v[i] *= norm;
    }
  }
}

function symMatVec(cov: Float64Array, d: number, v: Float64Array, out: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let s = 0;
    const o = i * d;
    for (let j = 0; j < d; j++) s += cov[o + j] * v[j];
    out[i] = s;
  }
}

/** Top eigenpairs by block power iteration with Rayleigh-Ritz; null when it did not converge. */
function subspaceEigen(cov: Float64Array, d: number, top: number): { values: number[]; vectors: Float64Array[]; iterations: number } | null {
  const b = Math.min(d, top + 10);
  const rng = new Rng('pca-subspace-start');
  const v = Array.from({ length: b }, () => Float64Array.from({ length: d }, () => rng.normal()));
  orthonormalize(v, rng);
  const w = Array.from({ length: b }, () => new Float64Array(d));
  for (let iter = 1; iter <= MAX_SUBSPACE_ITERATIONS; iter++) {
    for (let a = 0; a < b; a++) symMatVec(cov, d, v[a], w[a]);
    const h: number[][] = [];
    for (let a = 0; a < b; a++) {
      h.push([]);
      for (let c = 0; c < b; c++) h[a].push(0);
    }
    for (let a = 0; a < b; a++) {
      for (let c = a; c < b; c++) {
        const s = (dot(v[a], w[c]) + dot(v[c], w[a])) / 2;
        h[a][c] = s;
        h[c][a] = s;
      }
    }
    const evd = new EigenvalueDecomposition(new Matrix(h), { assumeSymmetric: true });
    const theta = evd.realEigenvalues;
    const s = evd.eigenvectorMatrix;
    const order = theta.map((t, i) => ({ t, i })).sort((p, q) => q.t - p.t);
    // Ritz vectors u = V s and their images C u = W s.
    const u = order.map(({ i }) => {
      const out = new Float64Array(d);
      for (let c = 0; c < b; c++) {
        const coef = s.get(c, i);
        const vc = v[c];
        for (let k = 0; k < d; k++) out[k] += coef * vc[k];
      }
      return out;
    });
    const cu = order.map(({ i }) => {
      const out = new Float64Array(d);
      for (let c = 0; c < b; c++) {
        const coef = s.get(c, i);
        const wc = w[c];
        for (let k = 0; k < d; k++) out[k] += coef * wc[k];
      }
      return out;
    });
    const lead = Math.max(Math.abs(order[0].t), 1e-300);
    let worst = 0;
    for (let a = 0; a < top; a++) {
      const t = order[a].t;
      let r = 0;
      for (let k = 0; k < d; k++) {
        const e = cu[a][k] - t * u[a][k];
        r += e * e;
      }
      worst = Math.max(worst, Math.sqrt(r) / lead);
    }
    if (worst < RESIDUAL_TOL || lead <= 1e-300) {
      return { values: order.slice(0, top).map((o) => Math.max(0, o.t)), vectors: u.slice(0, top), iterations: iter };
    }
    for (let a = 0; a < b; a++) v[a].set(cu[a]);
    orthonormalize(v, rng);
  }
  return null;
}
