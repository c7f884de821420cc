/**
 * `embed` end to end: pick a seeded, stratified sample of a split, turn it into features (pixels
 * or a trained model's activations), project it, measure it, and write projection.json (the
 * whole result as data), a scatter plot, and the files TensorBoard's projector reads.
 */
import path from 'node:path';
import { initBackend, type BackendName } from '../../backend/index.js';
import { CLASS_NAMES, IMAGE_SIZE, type Examples } from '../../data/types.js';
import { loadFashionMnist, splitTrainVal, toExamples } from '../../data/index.js';
import { hasRunConfig, loadRunModel, locateRunModel, readRunConfig, runPath, type RunConfig, type RunModelLocation } from '../../runs/index.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { UserError } from '../../util/errors.js';
import { computeEmbedding, checkProjectionOptions, type ProjectionOptions } from './compute.js';
import { defaultFeatureLayer, learnedFeatures, pixelMatrix, requireLayer } from './features.js';
import { writeScatter } from './plot.js';
import { writeProjectorFiles } from './projector.js';
import { stratifiedSample } from './sample.js';
import { timed } from './timing.js';
import type { DenseMatrix, EmbedSplit, FeatureSource, ProjectionFile, StageTime } from './types.js';

export const MAX_EMBED_COUNT = 10_000;
export const DEFAULT_EMBED_COUNT = 2_500;
export const DEFAULT_EMBED_SEED = 13;
/** The article's validation fraction, used for --pixels --split val. */
export const PIXELS_VAL_FRACTION = 0.2;

export const EMBED_FILES = {
  projection: 'projection.json',
  scatterSvg: 'scatter.svg',
  scatterPng: 'scatter.png',
} as const;

export const METHOD_LABELS = { pca: 'PCA', tsne: 't-SNE', umap: 'UMAP', custom: 'Custom projection' } as const;

export interface EmbedRequest extends Omit<ProjectionOptions, 'classNames' | 'seed'> {
  runDir?: string;
  pixels?: boolean;
  count?: number;
  split?: EmbedSplit;
  layer?: string;
  seed?: number;
  out?: string;
  dataDir?: string;
  verify?: boolean;
  backend?: BackendName;
  /** One line of progress (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface EmbedOutcome {
  out: string;
  files: string[];
  record: ProjectionFile;
}

/** Where outputs go unless --out says otherwise. */
export function defaultEmbedOut(req: Pick<EmbedRequest, 'runDir' | 'method' | 'dims' | 'split' | 'layer'>): string {
  let name = `${req.method}-${req.dims}d`;
  if (req.split === 'val') name += '-val';
  if (req.layer) name += `-${req.layer.replace(/[^A-Za-z0-9_.-]+/g, '_')}`;
  return req.runDir ? path.join(req.runDir, 'embed', name) : path.join('runs', 'embed-pixels', name);
}

function validate(req: EmbedRequest): void {
  if (req.pixels && req.runDir) throw new UserError('give either RUN_DIR or --pixels, not both');
  if (!req.pixels && !req.runDir) throw new UserError('embed needs RUN_DIR (a trained run) or --pixels (raw images)');
  if (req.pixels && req.layer) throw new UserError('--layer needs RUN_DIR (a trained model); --pixels embeds raw images');
  const count = req.count ?? DEFAULT_EMBED_COUNT;
  if (!Number.isInteger(count) || count < 1 || count > MAX_EMBED_COUNT) throw new UserError(`--count must be an integer from 1 to ${MAX_EMBED_COUNT}, got ${count}`);
}

function thumbnails(ex: Examples, positions: Uint32Array): Uint8Array {
  const per = IMAGE_SIZE * IMAGE_SIZE;
  const out = new Uint8Array(positions.length * per);
  for (let i = 0; i < positions.length; i++) {
    const src = positions[i] * per;
    for (let p = 0; p < per; p++) out[i * per + p] = Math.round(ex.x[src + p] * 255);
  }
  return out;
}

function roundCoords(coords: Float32Array, dims: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < coords.length / dims; i++) {
    const r: number[] = [];
    for (let d = 0; d < dims; d++) r.push(Number(coords[i * dims + d].toPrecision(6)));
    rows.push(r);
  }
  return rows;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

export async function runEmbed(req: EmbedRequest): Promise<EmbedOutcome> {
  validate(req);
  const log = req.log ?? (() => {});
  const count = req.count ?? DEFAULT_EMBED_COUNT;
  const split = req.split ?? 'test';
  const seed = req.seed ?? DEFAULT_EMBED_SEED;
  const options: ProjectionOptions = { ...req, seed, classNames: CLASS_NAMES };
  checkProjectionOptions(count, options);
  const timings: Record<string, StageTime> = {};

  let config: RunConfig | null = null;
  let modelDir: RunModelLocation | null = null;
  if (req.runDir) {
    modelDir = await locateRunModel(req.runDir);
    if (modelDir.fromCheckpoint) log(`note: ${req.runDir} has no final model yet; using its latest checkpoint`);
    config = (await hasRunConfig(req.runDir)) ? await readRunConfig(req.runDir) : null;
    if (split === 'val' && !config) throw new UserError(`${runPath(req.runDir, 'config')} is missing, so the run's validation split is unknown`);
  }
  const backend = await initBackend(req.backend);
  if (backend.fallbackReason) log(`note: ${backend.fallbackReason}`);

  const examples = await timed(timings, 'data', async () => {
    const data = await loadFashionMnist({ dataDir: req.dataDir, verify: req.verify });
    if (split === 'test') return toExamples(data.test);
    const hyper = config?.hyper;
    // The run's own split (same seed, fraction and limit as training); for pixels the article's 80/20.
    return splitTrainVal(data.train, hyper ? { seed: hyper.seed, valFraction: hyper.valSplit, limit: hyper.limit } : { seed, valFraction: PIXELS_VAL_FRACTION }).val;
  });
  if (count > examples.count) throw new UserError(`--count ${count} is larger than the ${split} split (${examples.count} images)`);
  const positions = stratifiedSample(examples.y, count, seed);
  const labels = Uint8Array.from(positions, (p) => examples.y[p]);
  const indices = Uint32Array.from(positions, (p) => examples.indices[p]);

  let source: FeatureSource;
  const features: DenseMatrix = await timed(timings, 'features', async () => {
    if (!req.runDir) {
      const m = pixelMatrix(examples, positions);
      source = { kind: 'pixels', runDir: null, model: null, layer: null, dim: m.cols };
      return m;
    }
    const { model } = await loadRunModel(req.runDir);
    try {
      const layer = req.layer ?? defaultFeatureLayer(model);
      requireLayer(model, layer);
      const m = learnedFeatures(model, examples, positions, layer);
      source = { kind: 'model', runDir: req.runDir, model: config?.model ?? model.name, layer, dim: m.cols, ...(modelDir?.fromCheckpoint ? { fromCheckpoint: true } : {}) };
      return m;
    } finally {
      model.dispose();
    }
  });
  source = source!;
  const sourceLabel = source.kind === 'pixels' ? `pixels (${source.dim} dims)` : `${source.model} layer ${source.layer} (${source.dim} dims)`;
  log(`embedding ${count} ${split} images: ${METHOD_LABELS[req.method]} ${req.dims}-D of ${sourceLabel}; backend ${backend.description}`);

  const result = await computeEmbedding(features, labels, options);
  Object.assign(timings, result.timings);
  const { projection, quality } = result;

  const out = req.out ?? defaultEmbedOut({ ...req, split });
  const record: ProjectionFile = {
    version: 1,
    method: req.method,
    dims: req.dims,
    split,
    seed,
    count,
    source,
    classNames: [...CLASS_NAMES],
    indices: Array.from(indices),
    labels: Array.from(labels),
    coords: roundCoords(projection.coords, projection.dims),
    axes: projection.axes,
    parameters: result.parameters,
    quality,
    ...(projection.pca ? { pca: projection.pca } : {}),
    ...(projection.tsne ? { tsne: projection.tsne } : {}),
    ...(projection.umap ? { umap: projection.umap } : {}),
    ...(projection.custom ? { custom: projection.custom } : {}),
    timings,
    backend: backend.description,
    createdAt: new Date().toISOString(),
  };

  const files = await timed(timings, 'files', async () => {
    const p = (f: string) => path.join(out, f);
    await writeScatter(
      {
        coords: projection.coords,
        dims: projection.dims,
        labels,
        classNames: CLASS_NAMES,
        axes: projection.axes,
        title: `${METHOD_LABELS[req.method]} of ${source.kind === 'pixels' ? 'Fashion-MNIST pixels' : `${source.model} features (${source.layer})`}`,
        subtitle: `${count} ${split} images, ${source.dim} dims · 10-NN label agreement: ${pct(quality.original)} in the original space, ${pct(quality.projection)} in the projection`,
      },
      { svg: p(EMBED_FILES.scatterSvg), png: p(EMBED_FILES.scatterPng) },
    );
    const projector = await writeProjectorFiles(out, {
      features,
      featuresName: source.kind === 'pixels' ? `Fashion-MNIST ${split} pixels` : `${source.model} ${source.layer}`,
      projection: { data: projection.coords, rows: count, cols: projection.dims },
      projectionName: `fashion-cnn ${METHOD_LABELS[req.method]} ${req.dims}-D`,
      labels,
      indices,
      classNames: CLASS_NAMES,
      thumbnails: thumbnails(examples, positions),
      thumb: IMAGE_SIZE,
    });
    return [p(EMBED_FILES.scatterSvg), p(EMBED_FILES.scatterPng), ...projector];
  });
  // projection.json last, with every timing, so its presence means the set is complete.
  await writeJsonAtomic(path.join(out, EMBED_FILES.projection), record);
  return { out, files: [path.join(out, EMBED_FILES.projection), ...files], record };
}
