/** The typed values the embedding stage passes around and writes to projection.json. */

export const EMBED_METHODS = ['pca', 'tsne', 'umap', 'custom'] as const;
export type EmbedMethod = (typeof EMBED_METHODS)[number];

export const EMBED_SPLITS = ['test', 'val'] as const;
export type EmbedSplit = (typeof EMBED_SPLITS)[number];

/** Row-major rows x cols matrix of float32 (one row per point). */
export interface DenseMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** The k nearest neighbours of every point (self excluded), nearest first. */
export interface KnnGraph {
  n: number;
  k: number;
  /** n x k neighbour indices. */
  indices: Int32Array;
  /** n x k Euclidean (not squared) distances, ascending per row. */
  distances: Float32Array;
}

/** How well a space keeps classes apart and neighbours together (see quality.ts). */
export interface EmbedQuality {
  k: number;
  /** Mean fraction of each point's k nearest neighbours in the original feature space that share its class. */
  original: number;
  /** The same in the projection. */
  projection: number;
  /** Per class (0..9), the projection's agreement. */
  projectionPerClass: number[];
  originalPerClass: number[];
  /** Mean fraction of each point's k original-space neighbours that are also among its k projection neighbours. */
  neighbourhoodPreserved: number;
}

export interface PcaSummary {
  /** Eigenvalues (variances along the components), largest first, for the top components. */
  eigenvalues: number[];
  /** Each top component's share of the total variance. */
  explainedVariance: number[];
  /** Sum of the shares of the top components. */
  explainedTotal: number;
  /** Total variance (trace of the covariance). */
  totalVariance: number;
  /** 1-based components the projection uses. */
  components: number[];
}

export interface CustomAxis {
  /** The axis' two searches (regular expressions over class names, case-insensitive). */
  from: string;
  to: string;
  fromClasses: string[];
  toClasses: string[];
  fromCount: number;
  toCount: number;
}

export interface CustomSummary {
  x: CustomAxis;
  y: CustomAxis | null;
  /** What the axes not given by searches show. */
  filledBy: 'principal components of the residual' | null;
}

export interface TsneSummary {
  perplexity: number;
  iterations: number;
  learningRate: number;
  theta: number;
  exaggeration: number;
  init: 'pca' | 'random';
  /** KL(P || Q) at the end, with Q's normaliser estimated by Barnes-Hut. */
  kl: number;
}

export interface UmapSummary {
  neighbors: number;
  minDist: number;
  epochs: number;
  init: 'pca' | 'random';
}

/** The result of projecting n points to 2 or 3 dimensions. */
export interface Projection {
  method: EmbedMethod;
  dims: 2 | 3;
  /** n x dims, row-major. */
  coords: Float32Array;
  /** Axis titles for plots. */
  axes: string[];
  pca?: PcaSummary;
  tsne?: TsneSummary;
  umap?: UmapSummary;
  custom?: CustomSummary;
}

export interface FeatureSource {
  kind: 'pixels' | 'model';
  runDir: string | null;
  model: string | null;
  /** The layer whose activations are the features (model only). */
  layer: string | null;
  dim: number;
  /** True when the run had no final model yet and its latest checkpoint was used. */
  fromCheckpoint?: boolean;
}

export interface StageTime {
  /** Wall-clock seconds. */
  seconds: number;
  /** CPU seconds of this process (user + system, all threads). */
  cpuSeconds: number;
}

/** projection.json: the whole projection as data (coordinates, labels, quality, settings). */
export interface ProjectionFile {
  version: 1;
  method: EmbedMethod;
  dims: 2 | 3;
  split: EmbedSplit;
  seed: number;
  count: number;
  source: FeatureSource;
  classNames: string[];
  /** Index of each point's image in its data file (the test file, or the 60k training file for val). */
  indices: number[];
  labels: number[];
  /** n rows of `dims` numbers. */
  coords: number[][];
  axes: string[];
  parameters: Record<string, unknown>;
  quality: EmbedQuality;
  pca?: PcaSummary;
  tsne?: TsneSummary;
  umap?: UmapSummary;
  custom?: CustomSummary;
  timings: Record<string, StageTime>;
  backend: string;
  createdAt: string;
}
