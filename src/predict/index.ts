/**
 * Prediction on people's own photos: decode (sharp), bring to Fashion-MNIST's form, classify.
 * The CLI's `predict` command calls `predictRun`; `classifyImages` works on any loaded model.
 */
export { DEFAULT_DECODE_LIMITS, DEFAULT_PREPROCESS_CONFIG, resolvePreprocessConfig, type DecodeLimits, type PreprocessConfig, type PreprocessOverride } from './config.js';
export { preprocessImage, type PreprocessInfo, type PreprocessedImage, type BackgroundEstimate } from './preprocess.js';
export { classifyImages, predictFrames, mirrorFrame, topK, DEFAULT_MIRROR, type MirrorMode, type ClassScore, type ClassifyOptions, type ImageInput, type ImagePrediction } from './classify.js';
export { framePng, savePreprocessed, uniqueStems } from './save.js';
export { predictRun, type PredictRunOptions, type PredictRunResult } from './run.js';
