/**
 * What `train --model NAME` uses when a flag is not given: the article's protocol for its three
 * models (the flags' own defaults), and for `best` the recipe chosen on the validation split (see
 * docs/RESULTS.md, "best"). A flag given on the command line always wins over the recipe.
 */
import type { AugmentConfig, TrainHyperParams } from '../runs/types.js';
import { NO_AUGMENTATION } from './augment.js';

export interface TrainRecipe {
  /** One line for --help and the run's log. */
  summary: string;
  hyper: Partial<TrainHyperParams>;
  augmentation: Partial<AugmentConfig>;
}

export const RECIPES: Readonly<Record<string, TrainRecipe>> = {
  best: {
    summary: 'every epoch augmented (random crop, flip, erasing), SGD + Nesterov with a one-cycle schedule, label smoothing 0.1, test-time flip',
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
    augmentation: { ...NO_AUGMENTATION, cropPad: 2, flip: true, erase: 0.5 },
  },
};

export function recipeFor(model: string | undefined): TrainRecipe | undefined {
  return model === undefined ? undefined : RECIPES[model];
}
