/**
 * Which model classifies: a run directory the user names, or else the shipped default model
 * (src/runs/default-model.ts); and how it wants to be asked (test-time flip, from its config.json).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { TestTimeAugmentation } from '../models/tta.js';
import { requireDefaultModel } from '../runs/default-model.js';
import { ensembleRunDirs, loadEnsemble, loadRunModel } from '../runs/index.js';
import { UserError } from '../util/errors.js';

export interface ModelSource {
  /** A run directory (as `train` writes it); without it, the default model. */
  runDir?: string;
  /** Another default model's run directory (tests, deployments); else $FASHION_CNN_DEFAULT_MODEL, else the shipped one. */
  defaultModel?: string;
  /** Run directories and folders of runs whose averaged probabilities classify instead (runs/ensemble.ts). */
  ensemble?: string[];
}

export interface LoadedPredictor {
  model: tfl.LayersModel;
  /** The run directory (an ensemble's, comma-separated). */
  runDir: string;
  /** True when no run was named and the default model is used. */
  isDefault: boolean;
  /** The test-time augmentation the run asks for (config.json's hyper.tta; 'none' when absent). */
  tta: TestTimeAugmentation;
}


/** Loads the named run's model, or the default one. Call `initBackend()` first. */
export async function loadPredictor(source: ModelSource = {}): Promise<LoadedPredictor> {
  if (source.ensemble) {
    if (source.runDir !== undefined) throw new UserError('give a run directory or an ensemble, not both');
    const runDirs = await ensembleRunDirs(source.ensemble, (l) => process.stderr.write(`${l}\n`));
    const { model, tta } = await loadEnsemble(runDirs);
    return { model, runDir: runDirs.join(','), isDefault: false, tta };
  }
  const isDefault = source.runDir === undefined;
  const runDir = source.runDir ?? (await requireDefaultModel(source.defaultModel));
  const { model, tta } = await loadRunModel(runDir);
  return { model, runDir, isDefault, tta };
}

const IMAGE_EXTENSION = /\.(jpe?g|png|webp|gif|avif|tiff?|svg|heic|heif|bmp)$/i;

/**
 * Whether `predict`'s first argument names a run rather than an image: a directory is never an
 * image, so it is a run (a folder that is no run then gets the run store's error); a path that does
 * not exist is a run unless it is named like an image, so a mistyped run directory says so instead
 * of classifying the images with the default model.
 */
export async function looksLikeRunDir(arg: string): Promise<boolean> {
  const stat = await fs.stat(arg).catch(() => null);
  if (stat) return stat.isDirectory();
  return !IMAGE_EXTENSION.test(path.basename(arg));
}
