/** The names of a run directory's files (see the README's "A run directory holds"). */
import path from 'node:path';

export const RUN_FILES = {
  config: 'config.json',
  history: 'history.jsonl',
  checkpoint: 'checkpoint',
  model: 'model',
  eval: 'eval.json',
  /** Held by the process training the run (see lock.ts). */
  trainingLock: 'train.lock',
  curvesSvg: 'curves.svg',
  curvesPng: 'curves.png',
  confusionPng: 'confusion.png',
  confusionSvg: 'confusion.svg',
  correctPng: 'correct.png',
  incorrectPng: 'incorrect.png',
  activationsPng: 'activations.png',
} as const;

export type RunFile = keyof typeof RUN_FILES;

/** The pictures a finished run holds. */
export const PICTURE_FILES = ['curvesSvg', 'curvesPng', 'confusionSvg', 'confusionPng', 'correctPng', 'incorrectPng', 'activationsPng'] as const satisfies readonly RunFile[];
export type PictureFile = (typeof PICTURE_FILES)[number];

/** Inside a checkpoint's folder (see checkpoint.ts). */
export const CHECKPOINT_FILES = {
  model: 'model',
  optimizerJson: 'optimizer.json',
  optimizerBin: 'optimizer.bin',
  state: 'state.json',
} as const;

export function runPath(runDir: string, file: RunFile): string {
  return path.join(runDir, RUN_FILES[file]);
}

/** A run id is a folder name: letters, digits, '.', '_' and '-' (not '.' or '..'). */
export function isValidRunId(id: string): boolean {
  return /^[A-Za-z0-9._-]+$/.test(id) && id !== '.' && id !== '..';
}
