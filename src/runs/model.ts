/** A run's trained model: where it is, loading it (checked), saving the final one. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FASHION_SHAPE, NUM_CLASSES, type ImageShape } from '../data/types.js';
import { loadModel, saveModel } from '../models/io.js';
import { checkModelIO } from '../models/shape.js';
import { UserError, errorMessage } from '../util/errors.js';
import { RunFileCorruptError, RunFileMissingError } from './errors.js';
import { CHECKPOINT_FILES, runPath } from './files.js';
import { checkpointDir, loadAveragedCheckpointModel } from './checkpoint.js';
import { expectFields, parseJson, readRunConfig, readTextOrNull, requireRegularFile, requireRunDir } from './read.js';

export interface RunModelLocation {
  dir: string;
  /** True when the run has no final model yet and its latest checkpoint's is used. */
  fromCheckpoint: boolean;
}

const hasModelJson = async (dir: string) => (await fs.stat(path.join(dir, 'model.json')).catch(() => null))?.isFile() ?? false;

/** The final model/, else the latest checkpoint's model (a run still training or interrupted). */
export async function locateRunModel(runDir: string): Promise<RunModelLocation> {
  await requireRunDir(runDir);
  const finalDir = runPath(runDir, 'model');
  if (await hasModelJson(finalDir)) return { dir: finalDir, fromCheckpoint: false };
  const ck = await checkpointDir(runDir);
  if (ck && (await hasModelJson(path.join(ck, CHECKPOINT_FILES.model)))) return { dir: path.join(ck, CHECKPOINT_FILES.model), fromCheckpoint: true };
  throw new RunFileMissingError(path.join(finalDir, 'model.json'), `${runDir} holds no trained model, nor a checkpoint's`);
}

/** Loads a model folder (model.json + weights), naming the folder in any failure. */
export async function loadModelDir(dir: string): Promise<tfl.LayersModel> {
  const jsonFile = path.join(dir, 'model.json');
  if (!(await hasModelJson(dir))) throw new RunFileMissingError(jsonFile);
  await checkModelJson(jsonFile);
  try {
    return await loadModel(dir);
  } catch (e) {
    if (e instanceof RunFileCorruptError || e instanceof RunFileMissingError) throw e;
    // models/io's own messages name the files (weights that do not fit model.json): kept, typed.
    if (e instanceof UserError) throw new RunFileCorruptError(dir, e.message, e.message);
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' && err.path) throw new RunFileMissingError(err.path);
    if (err.code && err.path) throw new RunFileCorruptError(err.path, err.message.split('\n')[0]);
    throw new RunFileCorruptError(jsonFile, `TF.js cannot load it: ${errorMessage(e).split('\n')[0]}`);
  }
}

/**
 * Refuses a model.json that is not a TF.js layers model before TF.js reads it (TF.js answers such
 * a file with a TypeError about undefined properties).
 */
async function checkModelJson(file: string): Promise<void> {
  const text = await readTextOrNull(file);
  if (text === null) throw new RunFileMissingError(file);
  const json = parseJson(file, text);
  expectFields(file, json, ['modelTopology', 'weightsManifest']);
  // TF.js saves the model's class and config directly; Keras-converted files wrap them in model_config.
  const topology = json.modelTopology as { model_config?: { class_name?: unknown }; class_name?: unknown } | null;
  const config = typeof topology === 'object' && topology !== null ? (topology.model_config ?? topology) : null;
  if (typeof config?.class_name !== 'string') throw new RunFileCorruptError(file, '"modelTopology" is not a Keras model (no class_name)');
  const manifest = json.weightsManifest;
  const groupOk = (g: unknown) => {
    const group = g as { paths?: unknown; weights?: unknown } | null;
    return typeof group === 'object' && group !== null && Array.isArray(group.paths) && group.paths.every((p) => typeof p === 'string' && !p.includes('/') && !p.startsWith('.')) && Array.isArray(group.weights);
  };
  if (!Array.isArray(manifest) || !manifest.every(groupOk)) throw new RunFileCorruptError(file, '"weightsManifest" is not a list of weight files (names in the same folder) and weights');
  for (const group of manifest as { paths: string[] }[]) {
    for (const p of group.paths) {
      const weights = path.join(path.dirname(file), p);
      if (!(await requireRegularFile(weights))) throw new RunFileMissingError(weights);
    }
  }
}

export interface LoadedRunModel extends RunModelLocation {
  model: tfl.LayersModel;
}

/**
 * Loads a run's model and checks that it takes `expect.input` images and gives `expect.classes`
 * probabilities (Fashion-MNIST's by default). Call `initBackend()` first.
 */
export async function loadRunModel(runDir: string, expect: { input: ImageShape; classes: number } = { input: FASHION_SHAPE, classes: NUM_CLASSES }): Promise<LoadedRunModel> {
  let location = await locateRunModel(runDir);
  let model: tfl.LayersModel;
  // A checkpoint of a run that averages its weights stands for the averages, as its validation did.
  if (location.fromCheckpoint && (await readRunConfig(runDir).catch(() => null))?.hyper.ema) {
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
  return { model, ...location };
}

export async function saveRunModel(runDir: string, model: tfl.LayersModel): Promise<void> {
  await saveModel(model, runPath(runDir, 'model'));
}
