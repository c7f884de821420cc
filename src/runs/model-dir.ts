/**
 * A model folder (model.json + weights, TF.js layers format), checked before TF.js reads it and
 * loaded with failures that name the file. Used for a run's final model and its checkpoints'.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadModel } from '../models/io.js';
import { UserError, errorMessage } from '../util/errors.js';
import { RunFileCorruptError, RunFileMissingError } from './errors.js';
import { expectFields, parseJson, readTextOrNull, requireRegularFile } from './read.js';

export const hasModelJson = async (dir: string) => (await fs.stat(path.join(dir, 'model.json')).catch(() => null))?.isFile() ?? false;

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
 * The files a model folder's model is made of, by name: model.json and the weight files its
 * manifest lists (other files in the folder are not part of it). Checked as `loadModelDir` checks them.
 */
export async function modelFiles(dir: string): Promise<string[]> {
  const jsonFile = path.join(dir, 'model.json');
  if (!(await hasModelJson(dir))) throw new RunFileMissingError(jsonFile);
  return ['model.json', ...new Set(await checkModelJson(jsonFile))].sort();
}

/**
 * Refuses a model.json that is not a TF.js layers model before TF.js reads it (TF.js answers such
 * a file with a TypeError about undefined properties). Returns the weight files' names.
 */
async function checkModelJson(file: string): Promise<string[]> {
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
  const names = (manifest as { paths: string[] }[]).flatMap((group) => group.paths);
  for (const p of names) {
    const weights = path.join(path.dirname(file), p);
    if (!(await requireRegularFile(weights))) throw new RunFileMissingError(weights);
  }
  return names;
}

