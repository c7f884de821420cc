/**
 * fashion-cnn as a library: the same stages the CLI uses, with typed values between them.
 *
 *   const data = await loadFashionMnist({});
 *   const run = await trainRun({ model: 'cnn1', hyper, augmentation: ARTICLE_AUGMENTATION });
 *   const { model } = await loadRunModel(run.runDir);
 *   const [result] = await classifyImages(model, [await fs.readFile('shirt.jpg')]);
 *
 * Or, with the shipped default model (models/default) and no training at all:
 *
 *   const { results } = await classify(['shirt.jpg']);            // or { runDir } for a run's model
 */
export * from './data/index.js';
export { MODEL_SPECS, findModelSpec, modelNames, type ModelSpec, type LayerSpec, type LayersSpec, type GraphSpec, type TransferSpec, type BackboneSpec } from './models/registry.js';
export { GraphBuilder } from './models/graph.js';
export { checkModelIO, modelImageShape } from './models/shape.js';
export { buildModel, countParams, requireModelSpec } from './models/build.js';
export { loadModel, saveModel } from './models/io.js';
export { initBackend, currentBackend, BACKEND_NAMES, type BackendName, type BackendInfo } from './backend/index.js';
export { trainRun, type TrainRunOptions, type RunSummary } from './train/run.js';
export { ARTICLE_AUGMENTATION, augmentBatch, type AugmentConfig } from './train/augment.js';
export { EarlyStopping, type TrainCallback } from './train/callbacks.js';
export { LrScheduler, parseLrSchedule } from './train/lr-schedule.js';
export * from './runs/index.js';
export { compileForTraining, makeOptimizer, makeLoss, type TrainOptimizer } from './train/optimizer.js';
export { evaluateModel } from './evaluate/report.js';
export { evaluateRun } from './evaluate/run.js';
export { compareModels } from './compare/run.js';
export {
  predictRun,
  classifyImages,
  classifyWithModel as classify,
  preprocessImage,
  PREPROCESS_MODES,
  DEFAULT_PREPROCESS_MODE,
  type ClassifyWithModelOptions as ClassifyOptions,
  type ClassifyWithModelResult as ClassifyResult,
  type ImageInput,
  type ImagePrediction,
  type PreprocessMode,
} from './predict/index.js';
export { defaultModelDir, requireDefaultModel, DEFAULT_MODEL_ENV } from './runs/default-model.js';
export { writeRunPictures } from './explain/index.js';
export { Rng } from './util/rng.js';
export { UserError } from './util/errors.js';
