/** `fashion-cnn predict RUN_DIR IMAGE...`: a run's model on the user's photos. */
import { promises as fs } from 'node:fs';
import { initBackend, type BackendName } from '../backend/index.js';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/types.js';
import { loadRunModel } from '../runs/index.js';
import { makeDirs } from '../util/atomic.js';
import { UserError, errorMessage } from '../util/errors.js';
import { classifyImages, type ImagePrediction } from './classify.js';
import { savePreprocessed, uniqueStems } from './save.js';

export interface PredictRunOptions {
  runDir: string;
  images: string[];
  /** How many classes to report per image, best first. */
  top: number;
  /** Write each image as the model saw it (and enlarged) into this folder. */
  savePreprocessedDir?: string;
  backend?: BackendName;
}

export interface PredictRunResult {
  results: ImagePrediction[];
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
  await initBackend(opts.backend);
  const { model } = await loadRunModel(opts.runDir);
  let results: ImagePrediction[];
  try {
    results = await classifyImages(model, opts.images, { top: opts.top });
  } finally {
    model.dispose();
  }
  const saved: (string[] | undefined)[] = [];
  if (opts.savePreprocessedDir) {
    const stems = uniqueStems(opts.images);
    for (const [i, p] of results.entries()) {
      saved[i] = p.ok ? await savePreprocessed(opts.savePreprocessedDir, stems[i], p.pixels, IMAGE_SIZE) : undefined;
    }
  }
  return { results, saved, failed: results.filter((p) => !p.ok).length };
}
