/**
 * From a feature matrix to a projection and its quality figures: the part of `embed` that knows
 * nothing about files, runs or the CLI (runEmbed and the tests call it directly).
 */
import { UserError } from '../../util/errors.js';
import { checkCustomSearches, customProjection, type CustomSpec } from './custom.js';
import { exactKnn, truncateKnn } from './knn.js';
import { explainedVariance, fitPca, PCA_TOP, projectPca } from './pca.js';
import { embedQuality } from './quality.js';
import { timed } from './timing.js';
import { neighboursForPerplexity, perplexityAffinities, runTsne, TSNE_DEFAULTS } from './tsne.js';
import { runUmap, UMAP_DEFAULTS } from './umap.js';
import type { DenseMatrix, EmbedMethod, EmbedQuality, KnnGraph, Projection, StageTime } from './types.js';

export const QUALITY_K = 10;
/** The fewest points a projection takes: each needs QUALITY_K neighbours besides itself, and one more. */
export const MIN_EMBED_POINTS = QUALITY_K + 2;

export interface ProjectionOptions {
  method: EmbedMethod;
  dims: 2 | 3;
  seed: number;
  classNames: readonly string[];
  /** PCA: 1-based components to plot (default 1..dims). */
  components?: number[];
  perplexity?: number;
  iterations?: number;
  learningRate?: number | 'auto';
  theta?: number;
  tsneInit?: 'pca' | 'random';
  umapInit?: 'pca' | 'random';
  neighbors?: number;
  minDist?: number;
  epochs?: number;
  custom?: CustomSpec;
  onProgress?: (done: number, total: number, note: string) => void;
}

export interface EmbeddingResult {
  projection: Projection;
  quality: EmbedQuality;
  timings: Record<string, StageTime>;
  /** Parameters actually used (defaults filled in), for the record. */
  parameters: Record<string, unknown>;
}

/** Rejects option combinations that cannot work for this many points, with one clear line. */
export function checkProjectionOptions(n: number, o: ProjectionOptions): void {
  if (n < MIN_EMBED_POINTS) throw new UserError(`need at least ${MIN_EMBED_POINTS} points to embed, got ${n}`);
  if (o.dims !== 2 && o.dims !== 3) throw new UserError(`--dims must be 2 or 3, got ${o.dims}`);
  if (o.method === 'pca' && o.components) {
    if (o.components.length !== o.dims) throw new UserError(`--components lists ${o.components.length} components for ${o.dims} dimensions`);
    for (const c of o.components) {
      if (!Number.isInteger(c) || c < 1 || c > PCA_TOP) throw new UserError(`--components: each must be an integer from 1 to ${PCA_TOP}, got ${c}`);
    }
    if (new Set(o.components).size !== o.components.length) throw new UserError('--components must not repeat a component');
  }
  if (o.method === 'tsne') {
    const p = o.perplexity ?? TSNE_DEFAULTS.perplexity;
    if (!(p > 0)) throw new UserError(`--perplexity must be positive, got ${p}`);
    if (3 * p > n - 1) throw new UserError(`--perplexity ${p} is too large for ${n} points (needs 3 x perplexity < N); use at most ${Math.floor((n - 1) / 3)}`);
    const th = o.theta ?? TSNE_DEFAULTS.theta;
    if (!(th >= 0 && th <= 1.5)) throw new UserError(`--theta must be between 0 (exact) and 1.5, got ${th}`);
  }
  if (o.method === 'umap') {
    const k = o.neighbors ?? UMAP_DEFAULTS.neighbors;
    if (!Number.isInteger(k) || k < 2 || k >= n) throw new UserError(`--neighbors must be an integer from 2 to ${n - 1}, got ${k}`);
    const md = o.minDist ?? UMAP_DEFAULTS.minDist;
    if (!(md >= 0 && md <= 1)) throw new UserError(`--min-dist must be between 0 and 1, got ${md}`);
  }
  if (o.method === 'custom') {
    if (!o.custom) throw new UserError('--method custom needs --left and --right (regular expressions over class names)');
    checkCustomSearches(o.custom, o.classNames);
  }
}

export async function computeEmbedding(x: DenseMatrix, labels: ArrayLike<number>, o: ProjectionOptions): Promise<EmbeddingResult> {
  const n = x.rows;
  checkProjectionOptions(n, o);
  const timings: Record<string, StageTime> = {};
  const perplexity = o.perplexity ?? TSNE_DEFAULTS.perplexity;
  const neighbors = o.neighbors ?? UMAP_DEFAULTS.neighbors;
  let kNeeded = QUALITY_K;
  if (o.method === 'tsne') kNeeded = Math.max(kNeeded, neighboursForPerplexity(perplexity, n));
  if (o.method === 'umap') kNeeded = Math.max(kNeeded, neighbors - 1);
  const original = await timed(timings, 'knn', () => exactKnn(x, Math.min(n - 1, kNeeded)));

  const { projection, parameters } = await timed(timings, 'projection', () => project(x, labels, original, o));

  const quality = await timed(timings, 'quality', () => {
    const low: DenseMatrix = { data: projection.coords, rows: n, cols: projection.dims };
    return embedQuality(truncateKnn(original, QUALITY_K), exactKnn(low, QUALITY_K), labels, QUALITY_K);
  });
  return { projection, quality, timings, parameters };
}

function toFloat32(a: Float64Array | Float32Array): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

async function project(x: DenseMatrix, labels: ArrayLike<number>, knn: KnnGraph, o: ProjectionOptions): Promise<{ projection: Projection; parameters: Record<string, unknown> }> {
  const dims = o.dims;
  const base = { method: o.method, dims };
  switch (o.method) {
    case 'pca': {
      const components = o.components ?? (dims === 2 ? [1, 2] : [1, 2, 3]);
      const fit = fitPca(x, { top: PCA_TOP });
      const ev = explainedVariance(fit);
      const coords = projectPca(x, fit, components.map((c) => c - 1));
      return {
        projection: {
          ...base,
          coords,
          axes: components.map((c) => `PC${c} (${(100 * (ev[c - 1] ?? 0)).toFixed(1)}% of variance)`),
          pca: {
            eigenvalues: fit.eigenvalues,
            explainedVariance: ev,
            explainedTotal: ev.reduce((a, b) => a + b, 0),
            totalVariance: fit.totalVariance,
            components,
          },
        },
        parameters: { components, solver: fit.method, solverIterations: fit.iterations },
      };
    }
    case 'tsne': {
      const perplexity = o.perplexity ?? TSNE_DEFAULTS.perplexity;
      const init = o.tsneInit ?? 'pca';
      const P = perplexityAffinities(truncateKnn(knn, neighboursForPerplexity(perplexity, x.rows)), perplexity);
      const start = init === 'pca' ? projectPca(x, fitPca(x, { top: dims }), dims === 2 ? [0, 1] : [0, 1, 2]) : undefined;
      const r = runTsne(P, {
        dims,
        iterations: o.iterations ?? TSNE_DEFAULTS.iterations,
        learningRate: o.learningRate ?? 'auto',
        theta: o.theta ?? TSNE_DEFAULTS.theta,
        init: start,
        seed: o.seed,
        onProgress: o.onProgress ? (i, total, kl) => o.onProgress?.(i, total, `KL ${kl.toFixed(3)}`) : undefined,
      });
      const tsne = {
        perplexity,
        iterations: r.iterations,
        learningRate: r.learningRate,
        theta: o.theta ?? TSNE_DEFAULTS.theta,
        exaggeration: TSNE_DEFAULTS.exaggeration,
        init,
        kl: r.kl,
      };
      return {
        projection: { ...base, coords: toFloat32(r.coords), axes: Array.from({ length: dims }, (_, d) => `t-SNE ${d + 1}`), tsne },
        parameters: { ...tsne, neighbours: neighboursForPerplexity(perplexity, x.rows) },
      };
    }
    case 'umap': {
      const init = o.umapInit ?? 'pca';
      const start = init === 'pca' ? projectPca(x, fitPca(x, { top: dims }), dims === 2 ? [0, 1] : [0, 1, 2]) : undefined;
      const r = runUmap(knn, { dims, neighbors: o.neighbors, minDist: o.minDist, epochs: o.epochs, seed: o.seed, init: start });
      const umap = { neighbors: r.neighbors, minDist: r.minDist, epochs: r.epochs, init };
      return {
        projection: { ...base, coords: toFloat32(r.coords), axes: Array.from({ length: dims }, (_, d) => `UMAP ${d + 1}`), umap },
        parameters: { ...umap, seed: o.seed },
      };
    }
    case 'custom': {
      const spec = o.custom as CustomSpec;
      const r = customProjection(x, labels, spec, dims, o.classNames);
      return {
        projection: { ...base, coords: toFloat32(r.coords), axes: r.axes, custom: r.summary },
        parameters: { ...spec },
      };
    }
  }
}
