/**
 * Prediction on people's own photos: decode (sharp), bring to Fashion-MNIST's form, classify.
 * The CLI's `predict` command calls `predictRun`; `classifyWithModel` uses a run's model or the
 * shipped default; `classifyImages` works on any loaded model.
 */
export { DEFAULT_DECODE_LIMITS, DEFAULT_PREPROCESS_CONFIG, DEFAULT_PREPROCESS_MODE, DEFAULT_PAPER_CONFIG, PREPROCESS_MODES, resolvePreprocessConfig, type DecodeLimits, type PaperConfig, type PreprocessConfig, type PreprocessMode, type PreprocessOverride } from './config.js';
export { preprocessImage } from './photo.js';
export type { PreprocessInfo, PreprocessedImage, BackgroundEstimate } from './preprocess.js';
export { preprocessPaper, cornerColour, fitLongSide } from './paper.js';
export { topK, type ClassScore } from './top.js';
export { classifyImages, predictFrames, mirrorFrame, DEFAULT_MIRROR, type MirrorMode, type ClassifyOptions, type ImageInput, type ImagePrediction } from './classify.js';
export { frameBytes, framePng, savePreprocessed, uniqueStems } from './save.js';
export { loadPredictor, looksLikeRunDir, type ModelSource, type LoadedPredictor } from './source.js';
export { predictRun, classifyWithModel, mirrorForTta, type PredictRunOptions, type PredictRunResult, type ClassifyWithModelOptions, type ClassifyWithModelResult } from './run.js';
