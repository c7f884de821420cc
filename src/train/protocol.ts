/**
 * The training protocol, in one place: the article's settings, each model's recipe layered on
 * them, then the caller's overrides (nanoGPT's single configuration block). `fashion-cnn train`,
 * `compare`, the server's training requests and its API schema all resolve a run's settings here.
 *
 * Light on purpose (no TF.js): the CLI checks flags against it before any stage is loaded.
 */
import type { AugmentConfig, OptimizerSpec, TrainHyperParams } from '../runs/types.js';
import { UserError } from '../util/errors.js';
import { ARTICLE_AUGMENTATION, NO_AUGMENTATION } from './augment.js';

/** A run's whole protocol: what config.json records as `hyper` and `augmentation`. */
export interface Protocol {
  hyper: TrainHyperParams;
  augmentation: AugmentConfig;
}

/** Settings that replace the protocol's, field by field (an undefined field replaces nothing). */
export interface ProtocolOverrides {
  hyper?: Partial<TrainHyperParams>;
  augmentation?: Partial<AugmentConfig>;
}

/** Each optimizer's settings when only its name is given. */
export const OPTIMIZER_DEFAULTS = {
  /** Keras's Adam defaults, the article's optimizer. */
  adam: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: null },
  adamw: { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: null, weightDecay: 0.01 },
  sgd: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 },
} as const satisfies { [K in OptimizerSpec['kind']]: Extract<OptimizerSpec, { kind: K }> };

export type OptimizerKind = keyof typeof OPTIMIZER_DEFAULTS;
export const OPTIMIZER_KINDS = Object.keys(OPTIMIZER_DEFAULTS) as OptimizerKind[];

/** The article's protocol: 48k/12k split, Adam at 0.001, batch 256, 10 clean epochs then 50 augmented. */
export const ARTICLE_PROTOCOL: Readonly<Protocol> = {
  hyper: {
    epochs: 10,
    augEpochs: 50,
    batchSize: 256,
    lr: 0.001,
    seed: 13,
    valSplit: 0.2,
    limit: null,
    earlyStop: null,
    lrSchedule: { kind: 'constant' },
    optimizer: OPTIMIZER_DEFAULTS.adam,
    labelSmoothing: 0,
    tta: 'none',
    ema: null,
    distill: null,
  },
  augmentation: ARTICLE_AUGMENTATION,
};

/**
 * Distillation's settings when only a teacher is given: T = 4 and an even mix of the labels and
 * the teacher, in the range Hinton et al. (2015) and later work use (T 2-20; T = 4 is a common
 * choice for small image classifiers). The teacher answers each batch as the student sees it,
 * the exact form; 'clean' targets trade that for speed. A sweep's --grid tries others.
 */
export const DISTILL_DEFAULTS = { temperature: 4, weight: 0.5, targets: 'batch' } as const;

/** The learning rate of a fine-tuning run when none is given (Keras's transfer-learning guide uses 1e-5 with Adam). */
export const FINE_TUNE_LR = 1e-5;

/** A model's own protocol where the caller is silent. */
export interface TrainRecipe {
  /** One line for --help and the run's log. */
  summary: string;
  hyper: Partial<TrainHyperParams>;
  augmentation: Partial<AugmentConfig>;
}

/** The article's protocol for VGG-19: the head trains 50 epochs on frozen features, no augmentation, Adam. */
const TRANSFER_RECIPE: TrainRecipe = {
  summary: 'the article\'s VGG-19 protocol: 50 epochs of the head on cached frozen features, no augmentation, Adam',
  hyper: { epochs: 50, augEpochs: 0, batchSize: 256, tta: 'none' },
  augmentation: {},
};

/** `best`'s recipe, shared by its wider variant (a teacher trained the same way). */
const RESNET9_RECIPE: TrainRecipe = {
  summary: 'every epoch augmented (random crop, flip), SGD + Nesterov with a one-cycle schedule, label smoothing 0.1, test-time flip',
  hyper: {
    epochs: 0,
    augEpochs: 18,
    batchSize: 256,
    lr: 0.2,
    lrSchedule: { kind: 'onecycle', warmup: 0.25 },
    optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    labelSmoothing: 0.1,
    tta: 'flip',
  },
  // No random erasing: without it seeds 13 and 14 ended higher on validation (docs/RESULTS.md, ablation).
  augmentation: { ...NO_AUGMENTATION, cropPad: 2, flip: true, erase: 0 },
};

/** The models with a recipe of their own; the article's three CNNs use the article's protocol. */
export const RECIPES: Readonly<Record<string, TrainRecipe>> = {
  best: RESNET9_RECIPE,
  'best-wide': RESNET9_RECIPE,
  vgg19: TRANSFER_RECIPE,
  'darknet-transfer': TRANSFER_RECIPE,
  transfer: TRANSFER_RECIPE,
};

export function recipeFor(model: string | undefined): TrainRecipe | undefined {
  return model === undefined ? undefined : RECIPES[model];
}

/** An optimizer's own settings, given apart from its name (`--momentum`, `--weight-decay`, ...). */
export interface OptimizerOptions {
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** A setting that belongs to another optimizer than the one chosen is an error, not ignored. */
export function checkOptimizerOptions(kind: OptimizerKind, o: OptimizerOptions): void {
  if (kind !== 'sgd' && (o.momentum !== undefined || o.nesterov)) throw new UserError(`--momentum and --nesterov are for --optimizer sgd, not ${kind}`);
  if (kind === 'adam' && o.weightDecay !== undefined) throw new UserError('--weight-decay is for --optimizer adamw or sgd, not adam');
}

/** The optimizer `kind` with its defaults where `o` is silent. */
export function optimizerSpec(kind: OptimizerKind, o: OptimizerOptions = {}): OptimizerSpec {
  checkOptimizerOptions(kind, o);
  const { momentum, nesterov, weightDecay } = o;
  return { ...OPTIMIZER_DEFAULTS[kind], ...definedFields({ momentum, nesterov, weightDecay }) } as OptimizerSpec;
}

/** `o` without its undefined fields, so that spreading it replaces only what it sets. */
function definedFields<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface ResolveOptions {
  /** Layer the model's recipe (default true; `compare` gives the article's CNNs the article's protocol). */
  recipe?: boolean;
  /** The run fine-tunes pretrained layers: without a given rate it trains at FINE_TUNE_LR. */
  fineTune?: boolean;
}

/**
 * A run's protocol: the article's, then `model`'s recipe, then `overrides`. The optimizer is one
 * setting: an override replaces the recipe's as a whole.
 */
export function resolveProtocol(model: string | undefined, overrides: ProtocolOverrides = {}, opts: ResolveOptions = {}): Protocol {
  const recipe = opts.recipe === false ? undefined : recipeFor(model);
  const given = definedFields(overrides.hyper);
  const hyper: TrainHyperParams = { ...ARTICLE_PROTOCOL.hyper, ...recipe?.hyper, ...given };
  // Fine-tuned pretrained layers move far from what they learned at the head's learning rate.
  if (opts.fineTune && given.lr === undefined) hyper.lr = FINE_TUNE_LR;
  const augmentation: AugmentConfig = { ...ARTICLE_PROTOCOL.augmentation, ...recipe?.augmentation, ...definedFields(overrides.augmentation) };
  if (hyper.epochs + hyper.augEpochs === 0) throw new UserError('nothing to train: --epochs and --aug-epochs are both 0');
  return { hyper, augmentation };
}
