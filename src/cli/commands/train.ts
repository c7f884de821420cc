import { Option, type Command } from 'commander';
import { ARTICLE_AUGMENTATION, NO_AUGMENTATION, type AugmentConfig } from '../../train/augment.js';
import type { TrainRecipe } from '../../train/recipes.js';
import { LR_SCHEDULE_HELP, parseLrSchedule } from '../../train/lr-schedule.js';
import type { RequestedSettings } from '../../train/run.js';
import { requireRunDirOrNothing } from '../../runs/read.js';
import type { OptimizerSpec, TrainHyperParams } from '../../runs/types.js';
import { UserError } from '../../util/errors.js';
import { findModelSpec, modelNames, type ModelOptions } from '../../models/registry.js';
import { addBackendOption, addDataOptions, printJson, type CommonFlags } from '../common.js';
import { fraction, nonNegativeInt, positiveInt, positiveNumber, unitInterval, zeroToBelowOne } from '../options.js';

/** The flags of one training run's protocol (shared by train and compare). */
export interface TrainingFlags extends CommonFlags, Pick<TrainHyperParams, 'epochs' | 'augEpochs' | 'batchSize' | 'lr' | 'seed' | 'valSplit' | 'labelSmoothing'> {
  limit?: number;
  earlyStop?: number;
  lrSchedule: string;
  optimizer: OptimizerSpec['kind'];
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  shearUnit: AugmentConfig['shearUnit'];
  interpolation: AugmentConfig['interpolation'];
  affine: 'article' | 'none';
  cropPad: number;
  flip?: boolean;
  erase: number;
  photo: number;
  tta: TrainHyperParams['tta'];
  ema?: number;
}

/** The learning rate of a fine-tuning run when --lr is not given (Keras's transfer-learning guide uses 1e-5 with Adam). */
export const FINE_TUNE_LR = 1e-5;

/** A transfer model's options (see ModelOptions). */
export interface ModelOptionFlags {
  inputSize?: number;
  weights?: string;
  backbone?: string;
  backboneLayer?: string;
  fineTune?: string;
}

export function modelOptionsFromFlags(f: ModelOptionFlags): ModelOptions {
  const o: ModelOptions = {};
  if (f.inputSize !== undefined) o.inputSize = f.inputSize;
  if (f.weights !== undefined) o.weights = f.weights;
  if (f.backbone !== undefined) o.backbone = f.backbone;
  if (f.backboneLayer !== undefined) o.backboneLayer = f.backboneLayer;
  if (f.fineTune !== undefined) o.fineTune = f.fineTune;
  return o;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--input-size <px>', 'transfer models: side of the square images the backbone sees (vgg19: default 48, at least 32; the article used 150; TF.js backbones: at least what their downsampling needs, 16 for darknet-transfer)', positiveInt)
    .option('--weights <source>', 'transfer models: the backbone\'s weights. vgg19: imagenet (default: $FASHION_CNN_VGG19_WEIGHTS, the cache, or Keras\'s URL), a .h5 path or URL, or random; TF.js backbones: pretrained or random (the control)')
    .option('--backbone <dir>', 'transfer models: a TF.js layers model (folder or model.json) to use as the frozen backbone')
    .option('--backbone-layer <name>', 'transfer models: the backbone layer whose output are the features')
    .option('--fine-tune <prefix>', `transfer models: also train the backbone layers whose names start with this (vgg19: block5), with a low learning rate (--lr default ${FINE_TUNE_LR} then); runs the backbone on every batch`);
}

interface TrainFlags extends TrainingFlags, ModelOptionFlags {
  model?: string;
  runDir?: string;
  resume?: boolean;
  pictures: boolean;
  json?: boolean;
}

/** The default optimizer's settings (loaded on use: its module brings in TF.js). */
export async function defaultOptimizer(): Promise<OptimizerSpec> {
  return (await import('../../train/optimizer.js')).DEFAULT_OPTIMIZER;
}

/** A flag that belongs to another optimizer than the one chosen is an error, not ignored. */
function checkOptimizerFlags(f: Pick<TrainingFlags, 'optimizer' | 'momentum' | 'nesterov' | 'weightDecay'>): void {
  if (f.optimizer !== 'sgd' && (f.momentum !== undefined || f.nesterov)) throw new UserError(`--momentum and --nesterov are for --optimizer sgd, not ${f.optimizer}`);
  if (f.optimizer === 'adam' && f.weightDecay !== undefined) throw new UserError('--weight-decay is for --optimizer adamw or sgd, not adam');
}

/**
 * Every check of the training flags that needs no stage loaded, so that a bad combination fails
 * at once (hyperFromFlags makes them too).
 */
export function checkTrainingFlags(f: TrainingFlags): void {
  if (f.epochs + f.augEpochs === 0) throw new UserError('nothing to train: --epochs and --aug-epochs are both 0');
  checkOptimizerFlags(f);
  parseLrSchedule(f.lrSchedule);
}

/** Fails with the registry's message for a model name it does not have (loading the model code only then). */
export async function checkModelNames(names: readonly string[]): Promise<void> {
  if (names.every((n) => findModelSpec(n))) return;
  const { requireModelSpec } = await import('../../models/build.js');
  names.forEach(requireModelSpec);
}

/**
 * A transfer model's options checked, and its backbone or weights file found, before any data is
 * loaded. vgg19's ImageNet weights may be missing: training downloads them.
 */
export async function checkModelFiles(model: string, options: ModelOptions): Promise<void> {
  const { applyModelOptions, findModelSpec: find } = await import('../../models/registry.js');
  const spec = applyModelOptions(find(model)!, options);
  if (spec.kind !== 'transfer') return;
  const { unavailableReason } = await import('../../models/describe.js');
  const reason = await unavailableReason(spec);
  const downloads = spec.backbone.source === 'vgg19' && (spec.backbone.weights ?? 'imagenet') === 'imagenet';
  if (reason && !downloads) throw new UserError(`${spec.name}: ${reason}`);
}

/** The optimizer the flags ask for; `adam` is the default optimizer's settings. */
export function optimizerFromFlags(f: Pick<TrainingFlags, 'optimizer' | 'momentum' | 'nesterov' | 'weightDecay'>, adam: OptimizerSpec): OptimizerSpec {
  checkOptimizerFlags(f);
  switch (f.optimizer) {
    case 'adam':
      return adam;
    case 'adamw':
      return { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: null, weightDecay: f.weightDecay ?? 0.01 };
    case 'sgd':
      return { kind: 'sgd', momentum: f.momentum ?? 0.9, nesterov: Boolean(f.nesterov), weightDecay: f.weightDecay ?? 0 };
  }
}

export function hyperFromFlags(f: TrainingFlags, adam: OptimizerSpec): TrainHyperParams {
  checkTrainingFlags(f);
  return {
    epochs: f.epochs,
    augEpochs: f.augEpochs,
    batchSize: f.batchSize,
    lr: f.lr,
    seed: f.seed,
    valSplit: f.valSplit,
    limit: f.limit ?? null,
    earlyStop: f.earlyStop ?? null,
    lrSchedule: parseLrSchedule(f.lrSchedule),
    optimizer: optimizerFromFlags(f, adam),
    labelSmoothing: f.labelSmoothing,
    tta: f.tta,
    ema: f.ema ?? null,
  };
}

/** The article's augmentation with the two Keras-version choices the flags make, and the `best` recipe's steps. */
export function augmentationFromFlags(f: Pick<TrainingFlags, 'shearUnit' | 'interpolation' | 'affine' | 'cropPad' | 'flip' | 'erase' | 'photo'>): AugmentConfig {
  const affine = f.affine === 'none' ? NO_AUGMENTATION : ARTICLE_AUGMENTATION;
  return { ...affine, shearUnit: f.shearUnit, interpolation: f.interpolation, cropPad: f.cropPad, flip: Boolean(f.flip), erase: f.erase, photo: f.photo };
}

const HYPER_FLAGS = ['epochs', 'augEpochs', 'batchSize', 'lr', 'seed', 'valSplit', 'limit', 'earlyStop', 'lrSchedule', 'labelSmoothing', 'tta', 'ema'] as const;
const OPTIMIZER_FLAGS = ['optimizer', 'momentum', 'nesterov', 'weightDecay'] as const;
const AUGMENT_FLAGS = ['shearUnit', 'interpolation', 'cropPad', 'flip', 'erase', 'photo'] as const;
const AFFINE_FIELDS = ['rotationDeg', 'widthShift', 'heightShift', 'shear', 'zoom'] as const;

/**
 * The model's training recipe (src/train/recipes.ts) where the command line is silent: every
 * setting not given as a flag comes from the recipe when it has one.
 */
export function withRecipe(hyper: TrainHyperParams, augmentation: AugmentConfig, recipe: TrainRecipe | undefined, given: (flag: string) => boolean): { hyper: TrainHyperParams; augmentation: AugmentConfig } {
  if (!recipe) return { hyper, augmentation };
  const h: TrainHyperParams = { ...hyper };
  for (const k of HYPER_FLAGS) if (!given(k) && recipe.hyper[k] !== undefined) Object.assign(h, { [k]: recipe.hyper[k] });
  if (!OPTIMIZER_FLAGS.some(given) && recipe.hyper.optimizer) h.optimizer = recipe.hyper.optimizer;
  const a: AugmentConfig = { ...augmentation };
  for (const k of AUGMENT_FLAGS) if (!given(k) && recipe.augmentation[k] !== undefined) Object.assign(a, { [k]: recipe.augmentation[k] });
  if (!given('affine')) for (const k of AFFINE_FIELDS) if (recipe.augmentation[k] !== undefined) a[k] = recipe.augmentation[k];
  if (h.epochs + h.augEpochs === 0) throw new UserError('nothing to train: --epochs and --aug-epochs are both 0');
  return { hyper: h, augmentation: a };
}

/**
 * The settings given on the command line (not defaults): with --resume each must agree with the
 * run's record. `all` treats every setting as given (compare resumes with its whole protocol).
 */
export function requestedFromFlags(f: TrainingFlags & { model?: string }, command: Command, adam: OptimizerSpec, all = false): RequestedSettings {
  const given = (k: string) => all || command.getOptionValueSource(k) === 'cli';
  const full = hyperFromFlags(f, adam);
  const augmentation = augmentationFromFlags(f);
  const hyper: Partial<TrainHyperParams> = {};
  for (const k of HYPER_FLAGS) if (given(k)) Object.assign(hyper, { [k]: full[k] });
  if (OPTIMIZER_FLAGS.some(given)) hyper.optimizer = full.optimizer;
  const augmentFields: (keyof AugmentConfig)[] = [...AUGMENT_FLAGS.filter(given), ...(given('affine') ? AFFINE_FIELDS : [])];
  return {
    ...(f.model !== undefined && given('model') ? { model: f.model } : {}),
    hyper,
    augmentation: Object.fromEntries(augmentFields.map((k) => [k, augmentation[k]])),
  };
}

export function addTrainingOptions(cmd: Command): Command {
  return cmd
    .option('--epochs <n>', 'phase 1: epochs on the clean training images', nonNegativeInt, 10)
    .option('--aug-epochs <n>', 'phase 2: further epochs on augmented batches', nonNegativeInt, 50)
    .option('--batch-size <n>', 'images per training step', positiveInt, 256)
    .option('--lr <rate>', 'learning rate (the start of a schedule)', positiveNumber, 0.001)
    .addOption(new Option('--optimizer <name>', 'adam (the article\'s), adamw (decoupled weight decay) or sgd (with momentum)').choices(['adam', 'adamw', 'sgd']).default('adam'))
    .option('--momentum <m>', 'sgd: momentum (default 0.9; 0 is plain SGD)', unitInterval)
    .option('--nesterov', 'sgd: Nesterov momentum')
    .option('--weight-decay <d>', 'adamw and sgd: decoupled weight decay of kernels per step, times the learning rate (default 0.01 for adamw, 0 for sgd)', unitInterval)
    .option('--label-smoothing <s>', 'categorical cross-entropy label smoothing, 0 to <1 (Keras label_smoothing)', zeroToBelowOne, 0)
    .option('--ema <decay>', 'keep an exponential moving average of the weights with this decay per step (e.g. 0.999); validation, test and the saved model use it', fraction)
    .option('--seed <n>', 'seed for the split, shuffles, initial weights, dropout and augmentation', nonNegativeInt, 13)
    .option('--val-split <fraction>', 'fraction of the 60k training images held out for validation (0: train on all of them, no validation; not with --early-stop or a plateau schedule)', zeroToBelowOne, 0.2)
    .option('--limit <n>', 'train on the first N training images of the seeded shuffle (quick runs)', positiveInt)
    .option('--early-stop <patience>', 'end a phase when validation loss has not improved for this many epochs', positiveInt)
    .option('--lr-schedule <spec>', LR_SCHEDULE_HELP, 'constant')
    .addOption(new Option('--shear-unit <unit>', 'unit of the article\'s shear 0.3 (degrees: Keras >= 2.2; radians: Keras 2.1)').choices(['degrees', 'radians']).default('degrees'))
    .addOption(new Option('--interpolation <mode>', 'how augmented pixels are sampled (nearest: Keras <= 2.2.4, the article\'s; bilinear: later Keras, blurs)').choices(['nearest', 'bilinear']).default(ARTICLE_AUGMENTATION.interpolation))
    .addOption(new Option('--affine <kind>', 'phase 2\'s random rotation, shift, shear and zoom: the article\'s, or none').choices(['article', 'none']).default('article'))
    .option('--crop-pad <px>', 'phase 2: random crops of the image padded by this many black pixels (0: off; at most half the side, 14)', nonNegativeInt, 0)
    .option('--flip', 'phase 2: mirror half of the images left-right')
    .option('--no-flip', 'no mirroring (to turn off a recipe\'s)')
    .option('--erase <p>', 'phase 2: random erasing of a rectangle with this probability, 0 (off) to <1', zeroToBelowOne, 0)
    .option('--photo <p>', 'phase 2: photo-like augmentation (slight perspective, exposure and contrast, blur or sharpening, background clutter) with this probability, 0 (off) to <1', zeroToBelowOne, 0)
    .addOption(new Option('--tta <mode>', 'test-time augmentation of validation and test predictions (flip: averaged with the mirror image)').choices(['none', 'flip']).default('none'));
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a model with the article\'s two-phase protocol and record the run in a run directory')
    .option('--model <name>', `model to train: ${modelNames().join(', ')} (best and the transfer models bring their own recipe for every flag not given: see src/train/recipes.ts)`)
    .option('--run-dir <dir>', 'where to record the run (default runs/<model>-<timestamp>)')
    .option('--resume', 'continue the run in --run-dir from its last completed epoch')
    .option('--no-pictures', 'skip drawing curves, confusion matrix, grids and activations')
    .option('--json', 'print a JSON summary on stdout');
  addModelOptions(cmd);
  addTrainingOptions(cmd);
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (f: TrainFlags, command: Command) => {
    checkTrainingFlags(f);
    if (f.model !== undefined) await checkModelNames([f.model]);
    const modelOptions = modelOptionsFromFlags(f);
    if (f.model !== undefined && !f.resume) await checkModelFiles(f.model, modelOptions);
    // A file in the way fails now, not after the data is loaded and the model built.
    if (f.runDir !== undefined && !f.resume) await requireRunDirOrNothing(f.runDir);
    const adam = await defaultOptimizer();
    const requested = f.resume ? { ...requestedFromFlags(f, command, adam), modelOptions } : undefined;
    const { recipeFor } = await import('../../train/recipes.js');
    const given = (k: string) => command.getOptionValueSource(k) === 'cli';
    const { hyper, augmentation } = withRecipe(hyperFromFlags(f, adam), augmentationFromFlags(f), f.resume ? undefined : recipeFor(f.model), given);
    // Fine-tuned pretrained layers move far from what they learned at the head's learning rate.
    if (modelOptions.fineTune !== undefined && !f.resume && !given('lr')) hyper.lr = FINE_TUNE_LR;
    const { trainRun } = await import('../../train/run.js');
    const summary = await trainRun({
      requested,
      model: f.model,
      modelOptions,
      hyper,
      augmentation,
      runDir: f.runDir,
      resume: f.resume,
      dataDir: f.dataDir,
      verify: f.verify,
      backend: f.backend,
      pictures: f.pictures,
    });
    const last = summary.eval.results[summary.eval.results.length - 1];
    if (f.json) {
      printJson({ runDir: summary.runDir, model: summary.config.model, seconds: summary.seconds, history: summary.history, eval: summary.eval });
    } else {
      process.stderr.write(`done in ${summary.seconds.toFixed(1)} s: test accuracy ${(last.test_acc * 100).toFixed(2)}%, run recorded in ${summary.runDir}\n`);
    }
  });
}
