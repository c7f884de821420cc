/**
 * The record of one training run, as types: what config.json, history.jsonl, eval.json and a
 * checkpoint's state.json hold. Every stage that reads or writes a run uses these types through
 * this folder (src/runs), which is the only code that knows the files.
 */
import type { DataSource } from '../data/types.js';
import type { ModelOptions } from '../models/spec.js';
import type { TestTimeAugmentation } from '../models/tta.js';
import type { RngState } from '../util/rng.js';

export type Phase = 'base' | 'augment';

export interface HistoryRow {
  phase: Phase;
  /** 1-based, counted over both phases (phase 2 continues the numbering). */
  epoch: number;
  loss: number;
  acc: number;
  val_loss: number;
  val_acc: number;
  seconds: number;
  lr: number;
}

export type LrScheduleSpec =
  | { kind: 'constant' }
  | { kind: 'step'; every: number; factor: number }
  | { kind: 'cosine'; minLr: number }
  | { kind: 'plateau'; patience: number; factor: number }
  /**
   * One cycle (Smith & Topin 2017), set every step: the rate rises linearly from 0 to `lr` over the
   * first `warmup` share of all steps, then falls linearly to 0 at the last step.
   */
  | { kind: 'onecycle'; warmup: number };

/**
 * The optimizer, by kind. `epsilon: null` is TF.js's default (the backend's epsilon, 1e-7), which
 * is what the article's Keras Adam used.
 */
export type OptimizerSpec =
  | { kind: 'adam'; beta1: number; beta2: number; epsilon: number | null }
  | { kind: 'adamw'; beta1: number; beta2: number; epsilon: number | null; weightDecay: number }
  /** `weightDecay`: every kernel is multiplied by 1 - lr * weightDecay before each step (decoupled, as in AdamW). */
  | { kind: 'sgd'; momentum: number; nesterov: boolean; weightDecay: number };

export interface TrainHyperParams {
  epochs: number;
  augEpochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  valSplit: number;
  limit: number | null;
  earlyStop: number | null;
  lrSchedule: LrScheduleSpec;
  optimizer: OptimizerSpec;
  /** Keras's label_smoothing of categorical cross-entropy: targets become y(1-s) + s/classes. */
  labelSmoothing: number;
  /** Test-time augmentation of validation and test predictions ('flip': averaged with the mirror image). */
  tta: TestTimeAugmentation;
  /**
   * Exponential moving average of the weights (src/train/weight-average.ts): the decay per step
   * (e.g. 0.999), or null for none. Validation, test and the saved model use the average.
   */
  ema: number | null;
}

export interface AugmentConfig {
  /** Maximum rotation, degrees (Keras rotation_range). */
  rotationDeg: number;
  /** Maximum shift as a fraction of width / height (Keras width/height_shift_range). */
  widthShift: number;
  heightShift: number;
  /** Maximum shear angle (Keras shear_range), in `shearUnit`. */
  shear: number;
  /** Keras >= 2.2 reads shear_range in degrees; Keras 2.1 (the article's era) in radians. */
  shearUnit: 'degrees' | 'radians';
  /** Zoom factors are drawn from [1 - zoom, 1 + zoom], independently per axis. */
  zoom: number;
  /**
   * How a warped pixel is sampled. Keras up to keras-preprocessing 1.0.5 (the article's era) called
   * scipy's affine_transform with order=0, i.e. nearest neighbour: augmented images stay as sharp as
   * the test images. Later Keras samples bilinearly (order=1), which blurs every augmented image.
   */
  interpolation: 'nearest' | 'bilinear';
  /**
   * Random crop: the image is padded with this many black pixels on every side and a crop of the
   * original size is taken at a random place (0: off). Applied after the affine warp.
   */
  cropPad: number;
  /** Mirror each image left-right with probability 1/2. */
  flip: boolean;
  /**
   * Random erasing (Zhong et al. 2017): with this probability a rectangle of 2-25% of the image,
   * aspect ratio 0.3-3.3, is filled with uniform noise (0: off). Applied last.
   */
  erase: number;
  /**
   * Photo-like augmentation (src/train/photo-augment.ts): with this probability an image gets a
   * small perspective, exposure and contrast, blur or sharpening, and background clutter (0: off).
   * Applied after the affine warp, before the crop and flip.
   */
  photo: number;
}

export interface ParamCounts {
  total: number;
  trainable: number;
  nonTrainable: number;
}

/** The version of the run-directory format this code writes (config.json's `format`). */
export const RUN_FORMAT = 2;

/** config.json */
export interface RunConfig {
  /** RUN_FORMAT when written; records from before the field existed are format 1. */
  format: number;
  id: string;
  model: string;
  /** The model's options (a transfer model's input size, weights, backbone); {} for records from before they existed. */
  modelOptions: ModelOptions;
  createdAt: string;
  hyper: TrainHyperParams;
  augmentation: AugmentConfig;
  data: Pick<DataSource, 'kind' | 'dir' | 'files'> & { trainCount: number; valCount: number; testCount: number };
  backend: string;
  params: ParamCounts;
  versions: Record<string, string>;
}

export interface ClassMetrics {
  class: number;
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Test-set evaluation of a model at one point of its training. */
export interface EvalResult {
  phase: 'base' | 'augment' | 'final';
  /** Epoch count (over both phases) when evaluated. */
  epoch: number;
  test_loss: number;
  test_acc: number;
  per_class: ClassMetrics[];
  macro_f1: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  count: number;
}

/** eval.json: one entry per evaluated phase, in phase order. */
export interface EvalReport {
  model: string;
  results: EvalResult[];
}

/** A checkpoint's state.json: everything besides weights that a resumed run needs. */
export interface TrainState {
  /** Epochs completed in each phase. */
  epochsDone: Record<Phase, number>;
  /** Phases finished (all epochs run, or ended early) and evaluated. */
  phasesDone: Phase[];
  /** Set when early stopping ended the phase that is in progress. */
  phaseStopped: boolean;
  rng: { shuffle: RngState; augment: RngState; dropout: RngState };
  callbacks: Record<string, unknown>;
  history: HistoryRow[];
  learningRate: number;
}
