/** A run's trained model: where it is, loading it (checked), saving the final one. */
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FASHION_SHAPE, NUM_CLASSES, type ImageShape } from '../data/types.js';
import { saveModel } from '../models/io.js';
import { checkModelIO } from '../models/shape.js';
import { RunFileMissingError } from './errors.js';
import { CHECKPOINT_FILES, runPath } from './files.js';
import { checkpointDir, loadAveragedCheckpointModel } from './checkpoint.js';
import { hasModelJson, loadModelDir } from './model-dir.js';
import { hasRunConfig, readRunConfig, requireRunDir } from './read.js';
import type { RunConfig } from './records.js';
import type { TestTimeAugmentation } from '../models/tta.js';

export interface RunModelLocation {
  dir: string;
  /** True when the run has no final model yet and its latest checkpoint's is used. */
  fromCheckpoint: boolean;
}

/** The final model/, else the latest checkpoint's model (a run still training or interrupted). */
export async function locateRunModel(runDir: string): Promise<RunModelLocation> {
  await requireRunDir(runDir);
  const finalDir = runPath(runDir, 'model');
  if (await hasModelJson(finalDir)) return { dir: finalDir, fromCheckpoint: false };
  const ck = await checkpointDir(runDir);
  if (ck && (await hasModelJson(path.join(ck, CHECKPOINT_FILES.model)))) return { dir: path.join(ck, CHECKPOINT_FILES.model), fromCheckpoint: true };
  throw new RunFileMissingError(path.join(finalDir, 'model.json'), `${runDir} holds no trained model, nor a checkpoint's`);
}

export interface LoadedRunModel extends RunModelLocation {
  model: tfl.LayersModel;
  /** The run's config.json; null for a model folder without one (a model saved by hand). */
  config: RunConfig | null;
  /** How the run's predictions are made: its recorded test-time augmentation ('none' without a record). */
  tta: TestTimeAugmentation;
}

/**
 * Loads a run's model with its record, and checks that it takes `expect.input` images and gives
 * `expect.classes` probabilities (Fashion-MNIST's by default). The record is read first, so a
 * damaged config.json fails before the weights are loaded. Call `initBackend()` first.
 */
export async function loadRunModel(runDir: string, expect: { input: ImageShape; classes: number } = { input: FASHION_SHAPE, classes: NUM_CLASSES }): Promise<LoadedRunModel> {
  const config = (await hasRunConfig(runDir)) ? await readRunConfig(runDir) : null;
  let location = await locateRunModel(runDir);
  let model: tfl.LayersModel;
  // A checkpoint of a run that averages its weights stands for the averages, as its validation did.
  if (location.fromCheckpoint && config?.hyper.ema) {
    const averaged = await loadAveragedCheckpointModel(runDir);
    model = averaged.model;
    location = { dir: averaged.dir, fromCheckpoint: true };
  } else {
    model = await loadModelDir(location.dir);
  }
  try {
    checkModelIO(model, expect, location.dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, ...location, config, tta: config?.hyper.tta ?? 'none' };
}

export async function saveRunModel(runDir: string, model: tfl.LayersModel): Promise<void> {
  await saveModel(model, runPath(runDir, 'model'));
}
