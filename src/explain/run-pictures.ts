/** All the pictures of one training run, written into its run directory (names from RUN_FILES). */
import type * as tfl from '@tensorflow/tfjs-layers';
import { CLASS_NAMES, type Examples } from '../data/types.js';
import { shapeSize } from '../models/shape.js';
import { PICTURE_FILES, runPath, type EvalResult, type HistoryRow, type PictureFile } from '../runs/index.js';
import { Rng } from '../util/rng.js';
import { renderActivations } from './activations.js';
import { renderConfusion } from './confusion.js';
import { renderCurves } from './curves.js';
import { pickGridItems, renderGrid, type Prediction } from './grid.js';

export interface RunPicturesInput {
  runDir: string;
  model: tfl.LayersModel;
  history: readonly HistoryRow[];
  evalResult: EvalResult;
  /** The test set the predictions were made on; predictions[i] belongs to test example i. */
  test: Examples;
  predictions: readonly Prediction[];
  seed: number | string;
}

export type RunPictureFile = PictureFile;

/** Writes every picture (each file atomically) and returns the paths written. */
export async function writeRunPictures(input: RunPicturesInput): Promise<Record<RunPictureFile, string>> {
  const { runDir, model, history, evalResult, test, predictions, seed } = input;
  const files = Object.fromEntries(PICTURE_FILES.map((f) => [f, runPath(runDir, f)])) as Record<RunPictureFile, string>;
  await renderCurves(history, { svg: files.curvesSvg, png: files.curvesPng }, { title: `Training history — ${model.name}` });
  await renderConfusion(evalResult, { svg: files.confusionSvg, png: files.confusionPng });

  // Separate named streams: the picks of one picture do not shift when another changes.
  const correct = pickGridItems(test, predictions, true, Rng.derive(seed, 'explain/correct'));
  await renderGrid(correct, files.correctPng, { title: `Correctly classified test images — ${model.name}`, emptyText: 'no correctly classified test images' });
  const incorrect = pickGridItems(test, predictions, false, Rng.derive(seed, 'explain/incorrect'));
  await renderGrid(incorrect, files.incorrectPng, { title: `Incorrectly classified test images — ${model.name}`, emptyText: 'no incorrectly classified test images' });

  const i = Rng.derive(seed, 'explain/activations').int(test.count);
  const pred = predictions[i];
  const per = shapeSize(test.shape);
  await renderActivations(model, test.x.slice(i * per, (i + 1) * per), test.shape, files.activationsPng, {
    caption: `test image #${i}, true: ${CLASS_NAMES[test.y[i]]}, predicted: ${CLASS_NAMES[pred.label]} (${pred.prob.toFixed(2)})`,
  });
  return files;
}
