import path from 'node:path';
import { Option, type Command } from 'commander';
import { ARTICLE_AUGMENTATION, NO_AUGMENTATION } from '../../train/augment.js';
import { LR_SCHEDULE_HELP, parseLrSchedule } from '../../train/lr-schedule.js';
import { ARTICLE_PROTOCOL, DISTILL_DEFAULTS, FINE_TUNE_LR, OPTIMIZER_DEFAULTS, OPTIMIZER_KINDS, checkOptimizerOptions, optimizerSpec, resolveProtocol, type OptimizerKind, type Protocol, type ProtocolOverrides } from '../../train/protocol.js';
import { requireRunDirOrNothing } from '../../runs/read.js';
import type { AugmentConfig, DistillSettings, TrainHyperParams } from '../../runs/types.js';
import { TEACHER_TARGETS } from '../../runs/records.js';
import { UserError } from '../../util/errors.js';
import { findModelSpec, modelNames, type ModelOptions } from '../../models/registry.js';
import { TTA_CHOICES, type TestTimeAugmentation } from '../../models/spec.js';
import { addBackendOption, addDataOptions, printJson, type CommonFlags } from '../common.js';
import { commaList, fraction, nonNegativeInt, positiveInt, positiveNumber, unitInterval, zeroToBelowOne } from '../options.js';
import { percent } from '../../util/format.js';

/** The flags of one training run's protocol (shared by train and compare). */
export interface TrainingFlags extends CommonFlags, Pick<TrainHyperParams, 'epochs' | 'augEpochs' | 'batchSize' | 'lr' | 'seed' | 'valSplit' | 'labelSmoothing'> {
  limit?: number;
  earlyStop?: number;
  lrSchedule: string;
  optimizer: OptimizerKind;
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
  teacher?: string[];
  distillTemperature?: number;
  distillWeight?: number;
  teacherTargets?: DistillSettings['targets'];
  teacherTta?: TestTimeAugmentation;
}

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

const HYPER_FLAGS = ['epochs', 'augEpochs', 'batchSize', 'lr', 'seed', 'valSplit', 'limit', 'earlyStop', 'lrSchedule', 'labelSmoothing', 'tta', 'ema'] as const;
const OPTIMIZER_FLAGS = ['optimizer', 'momentum', 'nesterov', 'weightDecay'] as const;
const AUGMENT_FLAGS = ['shearUnit', 'interpolation', 'cropPad', 'flip', 'erase', 'photo'] as const;
const AFFINE_FIELDS = ['rotationDeg', 'widthShift', 'heightShift', 'shear', 'zoom'] as const;

/** Which flags the command line gives (a flag left at its default is not given). */
export type GivenFlag = (flag: string) => boolean;
export const givenOn = (command: Command): GivenFlag => (flag) => command.getOptionValueSource(flag) === 'cli';

/**
 * The protocol settings the command line gives, as overrides of the model's protocol
 * (src/train/protocol.ts). With --resume they are also what must agree with the run's record.
 */
/** Each distillation setting's flag. */
const DISTILL_FLAGS: Readonly<Record<keyof DistillSettings, string>> = { teacher: 'teacher', temperature: 'distillTemperature', weight: 'distillWeight', targets: 'teacherTargets', tta: 'teacherTta' };

/**
 * What a resumed run is asked about its teacher: the settings whose flags were given. The others
 * stand at their defaults in `distill` but are the record's to say (`--resume --teacher T` asks
 * for the teacher only).
 */
function distillAsked(distill: DistillSettings | null | undefined, given: GivenFlag): { distill?: Partial<DistillSettings> | null } {
  if (distill === undefined) return {};
  if (distill === null) return { distill: null };
  return { distill: Object.fromEntries(Object.entries(distill).filter(([k]) => given(DISTILL_FLAGS[k as keyof DistillSettings]))) };
}

export function overridesFromFlags(f: TrainingFlags, given: GivenFlag): ProtocolOverrides {
  const values: Pick<TrainHyperParams, (typeof HYPER_FLAGS)[number]> = {
    epochs: f.epochs,
    augEpochs: f.augEpochs,
    batchSize: f.batchSize,
    lr: f.lr,
    seed: f.seed,
    valSplit: f.valSplit,
    limit: f.limit ?? null,
    earlyStop: f.earlyStop ?? null,
    lrSchedule: parseLrSchedule(f.lrSchedule),
    labelSmoothing: f.labelSmoothing,
    tta: f.tta,
    ema: f.ema ?? null,
  };
  const hyper: Partial<TrainHyperParams> = {};
  for (const k of HYPER_FLAGS) if (given(k)) Object.assign(hyper, { [k]: values[k] });
  if (f.teacher?.length) {
    // Absolute, so that the record names the same runs from any working directory (and worker).
    hyper.distill = {
      teacher: f.teacher.map((p) => path.resolve(p)),
      temperature: f.distillTemperature ?? DISTILL_DEFAULTS.temperature,
      weight: f.distillWeight ?? DISTILL_DEFAULTS.weight,
      targets: f.teacherTargets ?? DISTILL_DEFAULTS.targets,
      ...(f.teacherTta ? { tta: f.teacherTta } : {}),
    };
  } else {
    if (f.distillTemperature !== undefined || f.distillWeight !== undefined || f.teacherTargets !== undefined || f.teacherTta !== undefined) {
      throw new UserError('--distill-temperature, --distill-weight, --teacher-targets and --teacher-tta go with --teacher RUNS (the runs the student learns from)');
    }
    if (given('teacher')) hyper.distill = null;
  }
  // Checked even when no optimizer is named: --momentum alone is for sgd, not the default adam.
  checkOptimizerOptions(f.optimizer, f);
  if (OPTIMIZER_FLAGS.some(given)) hyper.optimizer = optimizerSpec(f.optimizer, f);
  const augmentation: Partial<AugmentConfig> = {};
  for (const k of AUGMENT_FLAGS) if (given(k)) Object.assign(augmentation, { [k]: k === 'flip' ? Boolean(f.flip) : f[k] });
  if (given('affine')) {
    const affine = f.affine === 'none' ? NO_AUGMENTATION : ARTICLE_AUGMENTATION;
    for (const k of AFFINE_FIELDS) augmentation[k] = affine[k];
  }
  return { hyper, augmentation };
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

export function addTrainingOptions(cmd: Command): Command {
  return cmd
    .option('--epochs <n>', 'phase 1: epochs on the clean training images', nonNegativeInt, ARTICLE_PROTOCOL.hyper.epochs)
    .option('--aug-epochs <n>', 'phase 2: further epochs on augmented batches', nonNegativeInt, ARTICLE_PROTOCOL.hyper.augEpochs)
    .option('--batch-size <n>', 'images per training step', positiveInt, ARTICLE_PROTOCOL.hyper.batchSize)
    .option('--lr <rate>', 'learning rate (the start of a schedule)', positiveNumber, ARTICLE_PROTOCOL.hyper.lr)
    .addOption(new Option('--optimizer <name>', 'adam (the article\'s), adamw (decoupled weight decay) or sgd (with momentum)').choices(OPTIMIZER_KINDS).default(ARTICLE_PROTOCOL.hyper.optimizer.kind))
    .option('--momentum <m>', `sgd: momentum (default ${OPTIMIZER_DEFAULTS.sgd.momentum}; 0 is plain SGD)`, unitInterval)
    .option('--nesterov', 'sgd: Nesterov momentum')
    .option('--weight-decay <d>', `adamw and sgd: decoupled weight decay of kernels per step, times the learning rate (default ${OPTIMIZER_DEFAULTS.adamw.weightDecay} for adamw, ${OPTIMIZER_DEFAULTS.sgd.weightDecay} for sgd)`, unitInterval)
    .option('--label-smoothing <s>', 'categorical cross-entropy label smoothing, 0 to <1 (Keras label_smoothing)', zeroToBelowOne, ARTICLE_PROTOCOL.hyper.labelSmoothing)
    .option('--ema <decay>', 'keep an exponential moving average of the weights with this decay per step (e.g. 0.999); validation, test and the saved model use it', fraction)
    .option('--seed <n>', 'seed for the split, shuffles, initial weights, dropout and augmentation', nonNegativeInt, ARTICLE_PROTOCOL.hyper.seed)
    .option('--val-split <fraction>', 'fraction of the 60k training images held out for validation (0: train on all of them, no validation; not with --early-stop or a plateau schedule)', zeroToBelowOne, ARTICLE_PROTOCOL.hyper.valSplit)
    .option('--limit <n>', 'train on the first N training images of the seeded shuffle (quick runs)', positiveInt)
    .option('--early-stop <patience>', 'end a phase when validation loss has not improved for this many epochs', positiveInt)
    .option('--lr-schedule <spec>', LR_SCHEDULE_HELP, ARTICLE_PROTOCOL.hyper.lrSchedule.kind)
    .addOption(new Option('--shear-unit <unit>', 'unit of the article\'s shear 0.3 (degrees: Keras >= 2.2; radians: Keras 2.1)').choices(['degrees', 'radians']).default(ARTICLE_PROTOCOL.augmentation.shearUnit))
    .addOption(new Option('--interpolation <mode>', 'how augmented pixels are sampled (nearest: Keras <= 2.2.4, the article\'s; bilinear: later Keras, blurs)').choices(['nearest', 'bilinear']).default(ARTICLE_PROTOCOL.augmentation.interpolation))
    .addOption(new Option('--affine <kind>', 'phase 2\'s random rotation, shift, shear and zoom: the article\'s, or none').choices(['article', 'none']).default('article'))
    .option('--crop-pad <px>', 'phase 2: random crops of the image padded by this many black pixels (0: off; at most half the side, 14)', nonNegativeInt, ARTICLE_PROTOCOL.augmentation.cropPad)
    .option('--flip', 'phase 2: mirror half of the images left-right')
    .option('--no-flip', 'no mirroring (to turn off a recipe\'s)')
    .option('--erase <p>', 'phase 2: random erasing of a rectangle with this probability, 0 (off) to <1', zeroToBelowOne, ARTICLE_PROTOCOL.augmentation.erase)
    .option('--photo <p>', 'phase 2: photo-like augmentation (slight perspective, exposure and contrast, blur or sharpening, background clutter) with this probability, 0 (off) to <1', zeroToBelowOne, ARTICLE_PROTOCOL.augmentation.photo)
    .addOption(new Option('--tta <mode>', 'test-time augmentation of validation and test predictions (flip: averaged with the mirror image)').choices(TTA_CHOICES).default(ARTICLE_PROTOCOL.hyper.tta))
    .option('--teacher <runs>', 'distil: learn from these runs\' probabilities besides the labels (Hinton et al. 2015); comma-separated run directories or folders of runs (a sweep\'s: its finished runs), averaged as an ensemble (see --teacher-targets for when it answers)', commaList)
    .option('--distill-temperature <T>', `with --teacher: the temperature that softens the teacher's and the student's probabilities (default ${DISTILL_DEFAULTS.temperature})`, positiveNumber)
    .option('--distill-weight <w>', `with --teacher: the teacher's share of the loss, 0 to 1; the labels get the rest (default ${DISTILL_DEFAULTS.weight})`, unitInterval)
    .addOption(new Option('--teacher-tta <how>', "with --teacher: the teacher's test-time augmentation, none or flip (default: its runs' own; none halves the cost of a teacher whose runs flip)").choices(TTA_CHOICES))
    .addOption(new Option('--teacher-targets <how>', `with --teacher: batch (the teacher answers every batch as the student sees it, augmented included) or clean (its answers for the un-augmented images, computed once and cached, stand for their augmented copies: faster by the teacher's cost per step, exact only where augmentation does not change its answer) (default ${DISTILL_DEFAULTS.targets})`).choices(TEACHER_TARGETS));
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a model with the article\'s two-phase protocol and record the run in a run directory')
    .option('--model <name>', `model to train: ${modelNames().join(', ')} (best and the transfer models bring their own recipe for every flag not given: see src/train/protocol.ts)`)
    .option('--run-dir <dir>', 'where to record the run (default runs/<model>-<timestamp>)')
    .option('--resume', 'continue the run in --run-dir from its last completed epoch')
    .option('--no-pictures', 'skip drawing curves, confusion matrix, grids and activations')
    .option('--json', 'print a JSON summary on stdout');
  addModelOptions(cmd);
  addTrainingOptions(cmd);
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (f: TrainFlags, command: Command) => {
    const given = givenOn(command);
    const overrides = overridesFromFlags(f, given);
    const modelOptions = modelOptionsFromFlags(f);
    // A resumed run keeps its record: the flags given are only checked against it.
    const { hyper, augmentation }: Protocol = resolveProtocol(f.model, overrides, { recipe: !f.resume, fineTune: modelOptions.fineTune !== undefined && !f.resume });
    if (f.model !== undefined) await checkModelNames([f.model]);
    if (f.model !== undefined && !f.resume) await checkModelFiles(f.model, modelOptions);
    // A file in the way fails now, not after the data is loaded and the model built.
    if (f.runDir !== undefined && !f.resume) await requireRunDirOrNothing(f.runDir);
    const requested = f.resume ? { ...(f.model !== undefined && given('model') ? { model: f.model } : {}), hyper: { ...overrides.hyper, ...distillAsked(overrides.hyper?.distill, given) }, augmentation: overrides.augmentation ?? {}, modelOptions } : undefined;
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
      process.stderr.write(`done in ${summary.seconds.toFixed(1)} s: test accuracy ${percent(last.test_acc)}, run recorded in ${summary.runDir}\n`);
    }
  });
}
