/** Turns raw image sets into model-ready examples and makes the seeded train/validation split. */
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { NUM_CLASSES, type Examples, type ImageSet, type TrainValSplit } from './types.js';

export interface SplitOptions {
  seed: number;
  /** Fraction of the training file held out for validation, in [0, 1); the article uses 0.2. */
  valFraction: number;
  /** Keep only the first `limit` training examples of the shuffled order (quick runs). */
  limit?: number | null;
}

export interface SplitSizes {
  train: number;
  val: number;
}

/**
 * Sizes of the split. The last round(N * valFraction) of the shuffled order are validation.
 * With a limit, training keeps the first `limit` examples of its part and validation shrinks in
 * proportion, to min(valCount, ceil(limit * valFraction / (1 - valFraction))), so a quick run
 * keeps the article's 80/20 ratio instead of validating 12,000 images after training on 500.
 */
export function splitSizes(n: number, valFraction: number, limit?: number | null): SplitSizes {
  if (!(valFraction >= 0 && valFraction < 1)) throw new UserError(`validation fraction must be in [0, 1), got ${valFraction}`);
  const valCount = Math.round(n * valFraction);
  const trainCount = n - valCount;
  if (limit === undefined || limit === null) return { train: trainCount, val: valCount };
  if (!Number.isInteger(limit) || limit <= 0) throw new UserError(`limit must be a positive integer, got ${limit}`);
  return {
    train: Math.min(limit, trainCount),
    val: Math.min(valCount, Math.ceil((limit * valFraction) / (1 - valFraction))),
  };
}

/**
 * Plain (not stratified) seeded random split of the training file, as the article's
 * train_test_split did: a permutation from Rng.derive(seed, 'split'), training first, validation last.
 */
export function splitTrainVal(train: ImageSet, opts: SplitOptions): TrainValSplit {
  const n = train.count;
  const sizes = splitSizes(n, opts.valFraction, opts.limit);
  const perm = Rng.derive(opts.seed, 'split').permutation(n);
  const valStart = n - Math.round(n * opts.valFraction);
  return {
    train: toExamples(train, perm.subarray(0, sizes.train)),
    val: toExamples(train, perm.subarray(valStart, valStart + sizes.val)),
  };
}

// x / 255 for every byte value, as float32: a table beats a division per pixel.
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** Examples in NHWC (N x rows x cols x 1) float32 in [0, 1], in the order of `indices` (all by default). */
export function toExamples(set: ImageSet, indices?: ArrayLike<number>): Examples {
  const idx = indices ? Uint32Array.from(indices as ArrayLike<number>) : Uint32Array.from({ length: set.count }, (_, i) => i);
  const pixels = set.rows * set.cols;
  const count = idx.length;
  const x = new Float32Array(count * pixels);
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const src = idx[i];
    if (src >= set.count) throw new RangeError(`index ${src} is outside the set of ${set.count}`);
    y[i] = set.labels[src];
    const image = set.images.subarray(src * pixels, (src + 1) * pixels);
    const out = x.subarray(i * pixels, (i + 1) * pixels);
    for (let p = 0; p < pixels; p++) out[p] = BYTE_TO_UNIT[image[p]];
  }
  return { x, y, count, indices: idx, shape: [set.rows, set.cols, 1] };
}

/** How many items of each class (0..numClasses-1) the labels hold. */
export function classCounts(labels: ArrayLike<number>, numClasses = NUM_CLASSES): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}
