import { Option, type Command } from 'commander';
import { ARTICLE_AUGMENTATION, type AugmentConfig } from '../../train/augment.js';
import { LR_SCHEDULE_HELP, parseLrSchedule } from '../../train/lr-schedule.js';
import { trainRun } from '../../train/run.js';
import type { TrainHyperParams } from '../../train/record.js';
import { UserError } from '../../util/errors.js';
import { modelNames } from '../../models/registry.js';
import { requireModelSpec } from '../../models/build.js';
import { addBackendOption, addDataOptions, printJson, type CommonFlags } from '../common.js';
import { fraction, nonNegativeInt, positiveInt, positiveNumber } from '../options.js';

interface TrainFlags extends CommonFlags {
  model?: string;
  epochs: number;
  augEpochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  valSplit: number;
  limit?: number;
  runDir?: string;
  resume?: boolean;
  earlyStop?: number;
  lrSchedule: string;
  shearUnit: AugmentConfig['shearUnit'];
  interpolation: AugmentConfig['interpolation'];
  pictures: boolean;
  json?: boolean;
}

export function hyperFromFlags(f: Pick<TrainFlags, 'epochs' | 'augEpochs' | 'batchSize' | 'lr' | 'seed' | 'valSplit' | 'limit' | 'earlyStop' | 'lrSchedule'>): TrainHyperParams {
  if (f.epochs + f.augEpochs === 0) throw new UserError('nothing to train: --epochs and --aug-epochs are both 0');
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
  };
}

/** The article's augmentation with the two Keras-version choices the flags make. */
export function augmentationFromFlags(f: Pick<TrainFlags, 'shearUnit' | 'interpolation'>): AugmentConfig {
  return { ...ARTICLE_AUGMENTATION, shearUnit: f.shearUnit, interpolation: f.interpolation };
}

export function addTrainingOptions(cmd: Command): Command {
  return cmd
    .option('--epochs <n>', 'phase 1: epochs on the clean training images', nonNegativeInt, 10)
    .option('--aug-epochs <n>', 'phase 2: further epochs on augmented batches', nonNegativeInt, 50)
    .option('--batch-size <n>', 'images per training step', positiveInt, 256)
    .option('--lr <rate>', 'Adam learning rate', positiveNumber, 0.001)
    .option('--seed <n>', 'seed for the split, shuffles, initial weights, dropout and augmentation', nonNegativeInt, 13)
    .option('--val-split <fraction>', 'fraction of the 60k training images held out for validation', fraction, 0.2)
    .option('--limit <n>', 'train on the first N training images of the seeded shuffle (quick runs)', positiveInt)
    .option('--early-stop <patience>', 'end a phase when validation loss has not improved for this many epochs', positiveInt)
    .option('--lr-schedule <spec>', LR_SCHEDULE_HELP, 'constant')
    .addOption(new Option('--shear-unit <unit>', 'unit of the article\'s shear 0.3 (degrees: Keras >= 2.2; radians: Keras 2.1)').choices(['degrees', 'radians']).default('degrees'))
    .addOption(new Option('--interpolation <mode>', 'how augmented pixels are sampled (nearest: Keras <= 2.2.4, the article\'s; bilinear: later Keras, blurs)').choices(['nearest', 'bilinear']).default(ARTICLE_AUGMENTATION.interpolation));
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a model with the article\'s two-phase protocol and record the run in a run directory')
    .option('--model <name>', `model to train: ${modelNames().join(', ')}`)
    .option('--run-dir <dir>', 'where to record the run (default runs/<model>-<timestamp>)')
    .option('--resume', 'continue the run in --run-dir from its last completed epoch')
    .option('--no-pictures', 'skip drawing curves, confusion matrix, grids and activations')
    .option('--json', 'print a JSON summary on stdout');
  addTrainingOptions(cmd);
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (f: TrainFlags) => {
    if (!f.model && !f.resume) throw new UserError(`train needs --model (one of ${modelNames().join(', ')})`);
    if (f.model) requireModelSpec(f.model);
    const summary = await trainRun({
      model: f.model ?? '',
      hyper: hyperFromFlags(f),
      augmentation: augmentationFromFlags(f),
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
