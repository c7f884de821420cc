/**
 * `fashion-cnn predict [RUN_DIR] IMAGE...` and the library's `classify`: a run's model, or the
 * shipped default model, on the user's photos.
 */
import { promises as fs } from 'node:fs';
import { initBackend, type BackendName } from '../backend/index.js';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/types.js';
import type { TestTimeAugmentation } from '../models/tta.js';
import { makeDirs } from '../util/atomic.js';
import { UserError, errorMessage } from '../util/errors.js';
import { classifyImages, type ImageInput, type ImagePrediction, type MirrorMode } from './classify.js';
import type { PreprocessMode } from './config.js';
import { savePreprocessed, uniqueStems } from './save.js';
import { loadPredictor, type ModelSource } from './source.js';

export interface ClassifyWithModelOptions extends ModelSource {
  /** How many classes to report per image, best first (default 3). */
  top?: number;
  /** How photos are brought to Fashion-MNIST's form (default: DEFAULT_PREPROCESS_MODE). */
  preprocess?: PreprocessMode;
  /** Test-time flip; default: what the run's config.json asks for. */
  tta?: TestTimeAugmentation;
  backend?: BackendName;
}

export interface ClassifyWithModelResult {
  results: ImagePrediction[];
  /** The run directory whose model answered. */
  runDir: string;
  isDefault: boolean;
  tta: TestTimeAugmentation;
}

/**
 * The mirror mode for a run's test-time augmentation. A run trained with random flips and recorded
 * with tta 'flip' is asked about the frame and its mirror and the answers averaged ('average', via
 * models/tta's predictBatch). Without it no mirror is used: shoes are already turned to face the way
 * Fashion-MNIST's do by the preprocessing (orientLikeFashionMnist), which is what a model that never
 * saw a mirrored shoe needs; averaging in the mirror would show it a shoe facing the wrong way.
 */
export function mirrorForTta(tta: TestTimeAugmentation): MirrorMode {
  return tta === 'flip' ? 'average' : 'none';
}

/**
 * Classifies images with the named run's model or the default model (initialising the backend).
 * A bad image gets `ok: false` and does not stop the others; a missing or damaged model throws.
 */
export async function classifyWithModel(images: readonly ImageInput[], opts: ClassifyWithModelOptions = {}): Promise<ClassifyWithModelResult> {
  const top = opts.top ?? 3;
  if (!Number.isInteger(top) || top < 1 || top > NUM_CLASSES) throw new UserError(`--top must be at most ${NUM_CLASSES} (and at least 1), got ${top}`);
  await initBackend(opts.backend);
  const { model, runDir, isDefault, tta: runTta } = await loadPredictor(opts);
  const tta = opts.tta ?? runTta;
  try {
    const results = await classifyImages(model, images, { top, mirror: mirrorForTta(tta), preprocess: opts.preprocess ? { mode: opts.preprocess } : undefined });
    return { results, runDir, isDefault, tta };
  } finally {
    model.dispose();
  }
}

export interface PredictRunOptions extends ClassifyWithModelOptions {
  images: string[];
  top: number;
  /** Write each image as the model saw it (and enlarged) into this folder. */
  savePreprocessedDir?: string;
}

export interface PredictRunResult extends ClassifyWithModelResult {
  /** Per image, the PNG files written for --save-preprocessed (undefined for failed images). */
  saved: (string[] | undefined)[];
  failed: number;
}

/** Makes the --save-preprocessed folder before any image is classified: a bad place fails at once. */
async function prepareFolder(dir: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => null);
  if (stat && !stat.isDirectory()) throw new UserError(`--save-preprocessed ${dir}: exists and is not a folder`);
  await makeDirs(dir).catch((e: unknown) => {
    throw new UserError(`--save-preprocessed ${dir}: cannot be made (${errorMessage(e)})`);
  });
}

/** Classifies every image; a bad image gets its own error and does not stop the others. */
export async function predictRun(opts: PredictRunOptions): Promise<PredictRunResult> {
  if (!Number.isInteger(opts.top) || opts.top < 1 || opts.top > NUM_CLASSES) throw new UserError(`--top must be at most ${NUM_CLASSES} (and at least 1), got ${opts.top}`);
  if (opts.savePreprocessedDir) await prepareFolder(opts.savePreprocessedDir);
  const outcome = await classifyWithModel(opts.images, opts);
  const saved: (string[] | undefined)[] = [];
  if (opts.savePreprocessedDir) {
    const stems = uniqueStems(opts.images);
    for (const [i, p] of outcome.results.entries()) {
      saved[i] = p.ok ? await savePreprocessed(opts.savePreprocessedDir, stems[i], p.pixels, IMAGE_SIZE) : undefined;
    }
  }
  return { ...outcome, saved, failed: outcome.results.filter((p) => !p.ok).length };
}
