/**
 * Prediction on people's own photos: decode (sharp), bring to Fashion-MNIST's form, classify.
 * The CLI's `predict` command and the HTTP server both use this API.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadModel } from '../models/io.js';
import { runPath } from '../train/record.js';
import { UserError, errorMessage } from '../util/errors.js';
import { checkModelShape } from './classify.js';

export { DEFAULT_DECODE_LIMITS, DEFAULT_PREPROCESS_CONFIG, resolvePreprocessConfig, type DecodeLimits, type PreprocessConfig, type PreprocessOverride } from './config.js';
export { preprocessImage, type PreprocessInfo, type PreprocessedImage, type BackgroundEstimate } from './preprocess.js';
export { classifyImages, predictFrames, mirrorFrame, topK, checkModelShape, DEFAULT_MIRROR, type MirrorMode, type ClassScore, type ClassifyOptions, type ImageInput, type ImagePrediction } from './classify.js';
export { framePng, savePreprocessed, uniqueStems } from './save.js';

/** RUN_DIR/model, or the latest checkpoint's model when the run has not finished; null when neither exists. */
export async function findRunModelDir(runDir: string): Promise<string | null> {
  for (const dir of [runPath(runDir, 'model'), path.join(runPath(runDir, 'checkpoint'), 'model')]) {
    try {
      await fs.access(path.join(dir, 'model.json'));
      return dir;
    } catch {
      /* try the next place */
    }
  }
  return null;
}

/**
 * Loads a run's model (see findRunModelDir), checking it takes 28x28x1 images and gives 10
 * probabilities. Call `initBackend()` first.
 */
export async function loadRunModel(runDir: string): Promise<{ model: tfl.LayersModel; dir: string }> {
  let stat;
  try {
    stat = await fs.stat(runDir);
  } catch {
    throw new UserError(`run directory not found: ${runDir}`);
  }
  if (!stat.isDirectory()) throw new UserError(`not a run directory: ${runDir}`);
  const dir = await findRunModelDir(runDir);
  if (!dir) throw new UserError(`${runDir} holds no trained model (no model/model.json, no checkpoint/model/model.json)`);
  let model: tfl.LayersModel;
  try {
    model = await loadModel(dir);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot load the model in ${dir}: ${errorMessage(e).split('\n')[0]}`);
  }
  checkModelShape(model);
  return { model, dir };
}
