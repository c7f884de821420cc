/**
 * The features stage, between data and training for transfer models: a frozen backbone's output
 * for every image is computed once, cached on disk (cache.ts), and the head is trained on those
 * features instead of running the backbone at every step. The whole model (extractor + trained
 * head) is put together at the end, so that what a run saves predicts from images as any other.
 *
 *   images -> extractor (adapter, frozen backbone, pooling) -> features (cached) -> head
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Examples, TrainValSplit } from '../data/types.js';
import { countParams, type ParamCounts } from '../models/build.js';
import type { LayersSpec, ModelSpec, TransferSpec } from '../models/spec.js';
import { buildExtractor, buildTransfer, copyHeadWeights, headSpec, type FeatureExtractor } from '../models/transfer.js';
import type { TrainHyperParams } from '../runs/types.js';
import { UserError } from '../util/errors.js';
import { Rng, withSeededMathRandom } from '../util/rng.js';
import { cachedOrComputed, digestPixels, featureCacheDir } from './cache.js';
import { extractFeatures } from './extract.js';

export { cachedOrComputed, digestPixels, featureCacheDir, type CachedValues } from './cache.js';

/**
 * Which runs train on cached features: transfer models without augmentation (an augmented image's
 * features differ every epoch) and without fine-tuning (the tuned layers' output changes every step).
 */
export function trainsOnFeatures(spec: ModelSpec, hyper: Pick<TrainHyperParams, 'augEpochs'>): spec is TransferSpec {
  return spec.kind === 'transfer' && hyper.augEpochs === 0 && spec.backbone.fineTune === undefined;
}

export interface FeatureRun {
  /** What is trained: the head alone, over the features. */
  head: LayersSpec;
  split: TrainValSplit;
  test: Examples;
  /** The whole model's parameter counts (extractor + head), for the run's record. */
  params(head: tfl.LayersModel): ParamCounts;
  /** The whole transfer model with the trained head's weights (the backbone built again from the same seed). */
  assemble(head: tfl.LayersModel): Promise<tfl.LayersModel>;
  /** Per set: computed (with images/s) or reused from the cache. */
  sources: Record<'train' | 'val' | 'test', { cached: boolean; imagesPerSecond: number; file: string }>;
}

export interface FeatureRunOptions {
  seed: number;
  tta: TrainHyperParams['tta'];
  log: (line: string) => void;
  cacheDir?: string;
}

/** A backbone with random weights draws them from this stream, so the extractor and the assembled model get the same ones. */
const backboneRng = (seed: number) => Rng.derive(seed, 'backbone');

export async function prepareFeatureRun(spec: TransferSpec, data: { split: TrainValSplit; test: Examples }, opts: FeatureRunOptions): Promise<FeatureRun> {
  if (opts.tta !== 'none') throw new UserError(`${spec.name}: --tta ${opts.tta} needs the images at test time; a transfer run trains on cached features (use --tta none)`);
  const dir = opts.cacheDir ?? featureCacheDir();
  const extractor = await withSeededMathRandom(backboneRng(opts.seed), () => buildExtractor(spec, opts.log));
  const extractorParams = countParams(extractor.model);
  const { path: _where, ...settings } = { path: '', ...spec.backbone };
  const identity = { settings, weights: extractor.weightsId, ...(extractor.weightsId.startsWith('random') ? { seed: opts.seed } : {}) };
  const sources = {} as FeatureRun['sources'];
  const features = async (name: 'train' | 'val' | 'test', images: Examples): Promise<Examples> => {
    const x = await cachedFeatures(dir, name, spec, extractor, identity, images, opts.log, (s) => (sources[name] = s));
    return { ...images, x, shape: extractor.featureShape };
  };
  let split: TrainValSplit, test: Examples;
  try {
    split = { train: await features('train', data.split.train), val: await features('val', data.split.val) };
    test = await features('test', data.test);
  } finally {
    extractor.model.dispose();
  }
  const head = headSpec(spec, extractor.featureShape);
  return {
    head,
    split,
    test,
    sources,
    params: (h) => {
      const p = countParams(h);
      return { total: p.total + extractorParams.total, trainable: p.trainable, nonTrainable: p.nonTrainable + extractorParams.total };
    },
    assemble: async (h) => {
      const full = await withSeededMathRandom(backboneRng(opts.seed), () => buildTransfer(spec, () => {}));
      copyHeadWeights(spec, h, full);
      return full;
    },
  };
}

async function cachedFeatures(
  dir: string,
  name: string,
  spec: TransferSpec,
  extractor: FeatureExtractor,
  identity: unknown,
  images: Examples,
  log: (line: string) => void,
  report: (s: FeatureRun['sources']['train']) => void,
): Promise<Float32Array> {
  const { x, cached, imagesPerSecond, file } = await cachedOrComputed(
    dir,
    { extractor: identity, images: digestPixels(images.x) },
    images.count,
    extractor.featureShape,
    (digest) => extractFeatures(extractor.model, images, extractor.featureShape, { label: `${spec.name} features (${name})`, onBatch: (b) => digest.update(b) }),
    { label: `features: ${name}`, log, nonFinite: (n) => new UserError(`${spec.name}: the backbone gives NaN or infinite features (${n} values for the ${name} images); nothing was cached`) },
  );
  report({ cached, imagesPerSecond, file });
  return x;
}
