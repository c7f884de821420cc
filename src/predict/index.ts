/**
 * Prediction on people's own photos: decode (sharp), bring to Fashion-MNIST's form, classify.
 * The CLI's `predict` command and the HTTP server both use this API.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadModel } from '../models/io.js';
import { locateRunModel } from '../train/record.js';
import { UserError, errorMessage } from '../util/errors.js';
import { checkModelShape } from './classify.js';

export { DEFAULT_DECODE_LIMITS, DEFAULT_PREPROCESS_CONFIG, resolvePreprocessConfig, type DecodeLimits, type PreprocessConfig, type PreprocessOverride } from './config.js';
export { preprocessImage, type PreprocessInfo, type PreprocessedImage, type BackgroundEstimate } from './preprocess.js';
export { classifyImages, predictFrames, mirrorFrame, topK, checkModelShape, DEFAULT_MIRROR, type MirrorMode, type ClassScore, type ClassifyOptions, type ImageInput, type ImagePrediction } from './classify.js';
export { framePng, savePreprocessed, uniqueStems } from './save.js';

/**
 * Loads a run's model (see locateRunModel), checking it takes 28x28x1 images and gives 10
 * probabilities. Call `initBackend()` first.
 */
export async function loadRunModel(runDir: string): Promise<{ model: tfl.LayersModel; dir: string }> {
  const { dir } = await locateRunModel(runDir);
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
