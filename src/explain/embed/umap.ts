/**
 * UMAP through umap-js, fed our exact neighbour graph (umap-js would otherwise build an
 * approximate one with NN-descent over number[][] rows, slower at 784 dimensions) and a seeded
 * random source, so a run is reproducible. umap-js starts from a uniform random layout, which
 * at 10,000 points leaves classes split into separate islands; a PCA start (Kobak & Linderman
 * 2021; umap-learn's init='pca') keeps them whole, so that is the default.
 */
import { UMAP } from 'umap-js';
import { Rng } from '../../util/rng.js';
import type { KnnGraph } from './types.js';

export const UMAP_DEFAULTS = { neighbors: 15, minDist: 0.1 };

export interface UmapOptions {
  dims: 2 | 3;
  neighbors?: number;
  minDist?: number;
  /** 0 or undefined: umap-js's default for the data size (500 up to 2,500 points, fewer above). */
  epochs?: number;
  seed: number;
  /**
   * n x dims starting layout (e.g. PCA), scaled to coordinates within ±10 with a little noise as
   * umap-learn does; without it, umap-js's uniform random start.
   */
  init?: Float32Array | Float64Array;
}

export interface UmapResult {
  coords: Float64Array;
  epochs: number;
  neighbors: number;
  minDist: number;
}

export function runUmap(g: KnnGraph, opts: UmapOptions): UmapResult {
  const neighbors = opts.neighbors ?? UMAP_DEFAULTS.neighbors;
  const minDist = opts.minDist ?? UMAP_DEFAULTS.minDist;
  if (neighbors - 1 > g.k) throw new RangeError(`UMAP with ${neighbors} neighbours needs a ${neighbors - 1}-NN graph, got ${g.k}`);
  const rng = Rng.derive(opts.seed, 'umap');
  const umap = new UMAP({
    nComponents: opts.dims,
    nNeighbors: neighbors,
    minDist,
    nEpochs: opts.epochs && opts.epochs > 0 ? opts.epochs : undefined,
    random: () => rng.next(),
  });
  // umap-js (like umap-learn) counts each point as its own first neighbour, at distance 0.
  const indices: number[][] = [];
  const distances: number[][] = [];
  for (let i = 0; i < g.n; i++) {
    const ix = [i];
    const ds = [0];
    for (let t = 0; t < neighbors - 1; t++) {
      ix.push(g.indices[i * g.k + t]);
      ds.push(g.distances[i * g.k + t]);
    }
    indices.push(ix);
    distances.push(ds);
  }
  umap.setPrecomputedKNN(indices, distances);
  // With a precomputed graph umap-js reads only the number of rows (transform() would need the
  // data, and is not used), so empty rows stand in for the vectors.
  const rows: number[][] = Array.from({ length: g.n }, () => []);
  const epochs = umap.initializeFit(rows);
  if (opts.init) setStart(umap.getEmbedding(), opts.init, opts.dims, rng);
  for (let e = 0; e < epochs; e++) umap.step();
  const emb = umap.getEmbedding();
  const coords = new Float64Array(g.n * opts.dims);
  for (let i = 0; i < g.n; i++) for (let d = 0; d < opts.dims; d++) coords[i * opts.dims + d] = emb[i][d];
  return { coords, epochs, neighbors, minDist };
}

/**
 * Overwrites umap-js's random start in place. getEmbedding() returns the live layout that step()
 * optimises (umap-js has no init option), so this must run after initializeFit and before step().
 */
function setStart(embedding: number[][], init: Float32Array | Float64Array, dims: number, rng: Rng): void {
  if (init.length !== embedding.length * dims) throw new RangeError(`init has ${init.length} values, expected ${embedding.length * dims}`);
  let max = 0;
  for (const v of init) max = Math.max(max, Math.abs(v));
  const scale = max > 0 ? 10 / max : 1;
  for (let i = 0; i < embedding.length; i++) {
    for (let d = 0; d < dims; d++) embedding[i][d] = init[i * dims + d] * scale + 1e-4 * rng.normal();
  }
}
