/**
 * Barnes-Hut t-SNE (van der Maaten 2014, "Accelerating t-SNE using tree-based algorithms").
 *
 * Hand-written because npm has no maintained Barnes-Hut implementation (tsne-js and friends are
 * exact O(N²) per iteration and unmaintained). It follows the reference bhtsne:
 *  - input similarities from the k = 3·perplexity nearest neighbours only, each point's Gaussian
 *    bandwidth found by binary search so that the conditional distribution has the requested
 *    perplexity, then symmetrised: p_ij = (p_j|i + p_i|j) / 2N;
 *  - gradient dC/dy_i = Σ_j p_ij q_ij Z (y_i - y_j) - Σ_j q_ij² Z (y_i - y_j) / Z with
 *    q_ij Z = 1 / (1 + |y_i - y_j|²): the attractive sum runs over the sparse P, the repulsive one
 *    over a quadtree/octree whose cells stand for all their points when width / distance < θ;
 *  - early exaggeration (P x 12 for 250 iterations), momentum 0.5 then 0.8, per-coordinate gains
 *    (+0.2 when the gradient's sign flips, x0.8 otherwise, floor 0.01), embedding re-centred
 *    every iteration.
 * Differences, both from later literature: squared distances in the Gaussian kernel (bhtsne's
 * tree variant used plain distances, a known slip), and by default a PCA initialisation and a
 * learning rate of max(200, N / 12) (Kobak & Berens 2019; Belkina et al. 2019).
 */
import { Rng } from '../../util/rng.js';
import { NODE_STRIDE, PACKED, SpaceTree } from './spacetree.js';
import type { KnnGraph } from './types.js';

/** Symmetric sparse joint probabilities in compressed-row form; values sum to 1. */
export interface SparseAffinities {
  n: number;
  rowPtr: Int32Array;
  cols: Int32Array;
  vals: Float64Array;
}

export interface TsneOptions {
  dims: 2 | 3;
  iterations?: number;
  /** A number, or 'auto' = max(200, N / exaggeration). */
  learningRate?: number | 'auto';
  theta?: number;
  exaggeration?: number;
  exaggerationIterations?: number;
  momentum?: number;
  finalMomentum?: number;
  /** n x dims starting layout (e.g. PCA), rescaled so its first coordinate has std 1e-4; or random N(0, 1e-4²). */
  init?: Float64Array | Float32Array;
  seed?: number;
  /** Called every `progressEvery` iterations and at the end; kl is the current divergence. */
  onProgress?: (iteration: number, total: number, kl: number) => void;
  progressEvery?: number;
}

export interface TsneResult {
  /** n x dims, row-major. */
  coords: Float64Array;
  kl: number;
  learningRate: number;
  iterations: number;
}

export const TSNE_DEFAULTS = {
  perplexity: 30,
  iterations: 1000,
  theta: 0.5,
  exaggeration: 12,
  exaggerationIterations: 250,
  momentum: 0.5,
  finalMomentum: 0.8,
};

/** Neighbours t-SNE needs for a perplexity (bhtsne: 3 x perplexity). */
export function neighboursForPerplexity(perplexity: number, n: number): number {
  return Math.min(n - 1, Math.floor(3 * perplexity));
}

const PERPLEXITY_TOL = 1e-5;
const PERPLEXITY_STEPS = 200;

/**
 * p_j|i over each point's neighbours (n x k, rows sum to 1), the Gaussian's β = 1/(2σ²) found by
 * binary search so that each row's entropy is log(perplexity).
 */
export function conditionalAffinities(g: KnnGraph, perplexity: number): Float64Array {
  const { n, k } = g;
  if (!(perplexity > 0)) throw new RangeError(`perplexity must be positive, got ${perplexity}`);
  const target = Math.log(perplexity);
  const cond = new Float64Array(n * k);
  const d2 = new Float64Array(k);
  const p = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const off = i * k;
    for (let t = 0; t < k; t++) {
      const d = g.distances[off + t];
      d2[t] = d * d;
    }
    let dmin = Infinity;
    for (let t = 0; t < k; t++) if (d2[t] < dmin) dmin = d2[t];
    // Shifting by the nearest distance changes nothing after normalisation but avoids exp underflow.
    for (let t = 0; t < k; t++) d2[t] -= dmin;
    let beta = 1;
    let lo = -Infinity;
    let hi = Infinity;
    let sum = 0;
    for (let step = 0; step < PERPLEXITY_STEPS; step++) {
      sum = 0;
      let weighted = 0;
      for (let t = 0; t < k; t++) {
        const v = Math.exp(-beta * d2[t]);
        p[t] = v;
        sum += v;
        weighted += d2[t] * v;
      }
      const entropy = Math.log(sum) + (beta * weighted) / sum;
      const diff = entropy - target;
      if (Math.abs(diff) < PERPLEXITY_TOL) break;
      if (diff > 0) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
      }
    }
    for (let t = 0; t < k; t++) cond[off + t] = p[t] / sum;
  }
  return cond;
}

/** Symmetric joint probabilities P from the neighbour graph (see conditionalAffinities). */
export function perplexityAffinities(g: KnnGraph, perplexity: number): SparseAffinities {
  return symmetrise(g, conditionalAffinities(g, perplexity));
}

/** P = (P_cond + P_condᵀ) / sum, merged into CSR with sorted columns. */
function symmetrise(g: KnnGraph, cond: Float64Array): SparseAffinities {
  const { n, k } = g;
  const m = n * k;
  // Every conditional entry appears as (i, j) and as (j, i).
  const rowCount = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      rowCount[i]++;
      rowCount[g.indices[i * k + t]]++;
    }
  }
  const ptr = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) ptr[i + 1] = ptr[i] + rowCount[i];
  const fill = ptr.slice(0, n);
  const cols = new Int32Array(2 * m);
  const vals = new Float64Array(2 * m);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = g.indices[i * k + t];
      const v = cond[i * k + t];
      cols[fill[i]] = j;
      vals[fill[i]++] = v;
      cols[fill[j]] = i;
      vals[fill[j]++] = v;
    }
  }
  // Sort each row by column and merge duplicates (pairs that are neighbours both ways).
  const outPtr = new Int32Array(n + 1);
  const outCols = new Int32Array(2 * m);
  const outVals = new Float64Array(2 * m);
  let w = 0;
  let total = 0;
  const idx: number[] = [];
  for (let i = 0; i < n; i++) {
    idx.length = 0;
    for (let e = ptr[i]; e < ptr[i + 1]; e++) idx.push(e);
    idx.sort((a, b) => cols[a] - cols[b]);
    let last = -1;
    for (const e of idx) {
      if (cols[e] === last) {
        outVals[w - 1] += vals[e];
      } else {
        outCols[w] = cols[e];
        outVals[w] = vals[e];
        last = cols[e];
        w++;
      }
      total += vals[e];
    }
    outPtr[i + 1] = w;
  }
  const scale = total > 0 ? 1 / total : 0;
  for (let e = 0; e < w; e++) outVals[e] *= scale;
  return { n, rowPtr: outPtr, cols: outCols.slice(0, w), vals: outVals.slice(0, w) };
}

/** Runs the optimisation; P from perplexityAffinities. */
export function runTsne(P: SparseAffinities, opts: TsneOptions): TsneResult {
  const n = P.n;
  const dims = opts.dims;
  const iterations = opts.iterations ?? TSNE_DEFAULTS.iterations;
  const theta = opts.theta ?? TSNE_DEFAULTS.theta;
  const exaggeration = opts.exaggeration ?? TSNE_DEFAULTS.exaggeration;
  const exaggerationIterations = opts.exaggerationIterations ?? TSNE_DEFAULTS.exaggerationIterations;
  const momentum = opts.momentum ?? TSNE_DEFAULTS.momentum;
  const finalMomentum = opts.finalMomentum ?? TSNE_DEFAULTS.finalMomentum;
  const learningRate = opts.learningRate === undefined || opts.learningRate === 'auto' ? Math.max(200, n / exaggeration) : opts.learningRate;
  const progressEvery = opts.progressEvery ?? 50;

  // Positions as x, y, z triples (z = 0 in 2-D, where its gradient is always 0).
  const y = initialLayout(n, dims, opts.init, opts.seed ?? 0);
  const update = new Float64Array(3 * n);
  const gains = new Float64Array(3 * n).fill(1);
  const grad = new Float64Array(3 * n);
  const ws = new GradientWorkspace(n);

  for (let it = 0; it < iterations; it++) {
    const exag = it < exaggerationIterations ? exaggeration : 1;
    const mom = it < exaggerationIterations ? momentum : finalMomentum;
    const z = tsneGradient(P, y, exag, theta, ws, grad);
    if (dims === 2) for (let i = 0; i < n; i++) grad[3 * i + 2] = 0;
    for (let e = 0; e < 3 * n; e++) {
      const g = grad[e];
      const u = update[e];
      let gain = (g > 0) !== (u > 0) ? gains[e] + 0.2 : gains[e] * 0.8;
      if (gain < 0.01) gain = 0.01;
      gains[e] = gain;
      const nu = mom * u - learningRate * gain * g;
      update[e] = nu;
      y[e] += nu;
    }
    recentre(y, n);
    if (opts.onProgress && (it + 1) % progressEvery === 0 && it + 1 < iterations) {
      opts.onProgress(it + 1, iterations, divergence(P, y, z));
    }
  }
  // Divergence of the final layout (one more tree for its normaliser).
  ws.tree.build(y);
  const kl = divergence(P, y, repulsion(ws.tree, y, n, theta * theta, ws.rep, ws.stack));
  opts.onProgress?.(iterations, iterations, kl);

  const coords = new Float64Array(n * dims);
  for (let i = 0; i < n; i++) for (let d = 0; d < dims; d++) coords[i * dims + d] = y[3 * i + d];
  return { coords, kl, learningRate, iterations };
}

/** Buffers reused across iterations: the tree, the repulsive forces and the traversal stack. */
export class GradientWorkspace {
  readonly tree: SpaceTree;
  readonly rep: Float64Array;
  // Deepest traversal: at most 7 siblings waiting per level, plus slack.
  readonly stack = new Int32Array(64 * 8 + 16);
  constructor(n: number) {
    this.tree = new SpaceTree(n);
    this.rep = new Float64Array(3 * n);
  }
}

/**
 * The t-SNE gradient (without bhtsne's constant factor 4, which the learning rate absorbs) at
 * positions y (x, y, z triples) into grad; returns the Barnes-Hut estimate of Z. θ = 0 is exact.
 */
export function tsneGradient(P: SparseAffinities, y: Float64Array, exaggeration: number, theta: number, ws: GradientWorkspace, grad: Float64Array): number {
  const n = P.n;
  ws.tree.build(y);
  const z = repulsion(ws.tree, y, n, theta * theta, ws.rep, ws.stack);
  attraction(P, y, exaggeration, grad);
  const invZ = 1 / z;
  for (let e = 0; e < 3 * n; e++) grad[e] -= ws.rep[e] * invZ;
  return z;
}

function initialLayout(n: number, dims: number, init: Float64Array | Float32Array | undefined, seed: number): Float64Array {
  const y = new Float64Array(3 * n);
  if (init) {
    if (init.length !== n * dims) throw new RangeError(`init has ${init.length} values, expected ${n * dims}`);
    let mean = 0;
    for (let i = 0; i < n; i++) mean += init[i * dims];
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (init[i * dims] - mean) ** 2;
    const std = Math.sqrt(v / n);
    const scale = std > 0 ? 1e-4 / std : 1;
    for (let i = 0; i < n; i++) for (let d = 0; d < dims; d++) y[3 * i + d] = init[i * dims + d] * scale;
  } else {
    const rng = Rng.derive(seed, 'tsne-init');
    for (let i = 0; i < n; i++) for (let d = 0; d < dims; d++) y[3 * i + d] = rng.normal() * 1e-4;
  }
  recentre(y, n);
  return y;
}

function recentre(y: Float64Array, n: number): void {
  let mx = 0, my = 0, mz = 0;
  for (let i = 0; i < n; i++) {
    mx += y[3 * i];
    my += y[3 * i + 1];
    mz += y[3 * i + 2];
  }
  mx /= n;
  my /= n;
  mz /= n;
  for (let i = 0; i < n; i++) {
    y[3 * i] -= mx;
    y[3 * i + 1] -= my;
    y[3 * i + 2] -= mz;
  }
}

/** grad_i = Σ_j exag·p_ij (y_i - y_j) / (1 + |y_i - y_j|²) (the attractive part; overwrites grad). */
function attraction(P: SparseAffinities, y: Float64Array, exag: number, grad: Float64Array): void {
  const { n, rowPtr, cols, vals } = P;
  for (let i = 0; i < n; i++) {
    const xi = y[3 * i], yi = y[3 * i + 1], zi = y[3 * i + 2];
    let fx = 0, fy = 0, fz = 0;
    for (let e = rowPtr[i], end = rowPtr[i + 1]; e < end; e++) {
      const j = 3 * cols[e];
      const dx = xi - y[j], dy = yi - y[j + 1], dz = zi - y[j + 2];
      const m = (exag * vals[e]) / (1 + dx * dx + dy * dy + dz * dz);
      fx += m * dx;
      fy += m * dy;
      fz += m * dz;
    }
    grad[3 * i] = fx;
    grad[3 * i + 1] = fy;
    grad[3 * i + 2] = fz;
  }
}

/**
 * Unnormalised repulsive forces Σ_j (q_ij Z)² (y_i - y_j) into rep, by Barnes-Hut; returns
 * Z = Σ_{i≠j} 1 / (1 + |y_i - y_j|²).
 */
function repulsion(tree: SpaceTree, y: Float64Array, n: number, theta2: number, rep: Float64Array, stack: Int32Array): number {
  const { order, packed, leafOf } = tree;
  let z = 0;
  // Points in tree order: neighbours in space follow one another, so successive traversals
  // touch the same nodes and stay in cache.
  for (let o = 0; o < n; o++) {
    const i = order[o];
    const xi = y[3 * i], yi = y[3 * i + 1], zi = y[3 * i + 2];
    let fx = 0, fy = 0, fz = 0, zi_ = 0;
    let sp = 0;
    stack[sp++] = 0;
    while (sp > 0) {
      const nd = stack[--sp];
      const base = nd * NODE_STRIDE;
      const fc = packed[base + PACKED.firstChild];
      // A leaf's points all sit at its centre of mass (see SpaceTree), so it needs no descent;
      // a point's own leaf counts its other points only.
      const isLeaf = fc < 0;
      const count = isLeaf && nd === leafOf[i] ? packed[base + PACKED.count] - 1 : packed[base + PACKED.count];
      if (count === 0) continue;
      const dx = xi - packed[base + PACKED.comX], dy = yi - packed[base + PACKED.comY], dz = zi - packed[base + PACKED.comZ];
      const d2 = dx * dx + dy * dy + dz * dz;
      if (isLeaf || packed[base + PACKED.width2] < theta2 * d2) {
        const q = 1 / (1 + d2);
        const m = count * q;
        zi_ += m;
        const mq = m * q;
        fx += mq * dx;
        fy += mq * dy;
        fz += mq * dz;
      } else {
        for (let ch = fc, e = fc + packed[base + PACKED.childCount]; ch < e; ch++) stack[sp++] = ch;
      }
    }
    rep[3 * i] = fx;
    rep[3 * i + 1] = fy;
    rep[3 * i + 2] = fz;
    z += zi_;
  }
  return z;
}

/** KL(P || Q) = Σ p_ij log(p_ij / q_ij), with q_ij = (1 + d²)⁻¹ / Z. */
function divergence(P: SparseAffinities, y: Float64Array, z: number): number {
  const { n, rowPtr, cols, vals } = P;
  let kl = 0;
  const logZ = Math.log(z);
  for (let i = 0; i < n; i++) {
    for (let e = rowPtr[i], end = rowPtr[i + 1]; e < end; e++) {
      const p = vals[e];
      if (p <= 0) continue;
      const j = 3 * cols[e];
      const dx = y[3 * i] - y[j], dy = y[3 * i + 1] - y[j + 1], dz = y[3 * i + 2] - y[j + 2];
      kl += p * (Math.log(p) + Math.log(1 + dx * dx + dy * dy + dz * dz) + logZ);
    }
  }
  return kl;
}
