/**
 * The record of one training run, as files in runs/<id>/ (see ../shared/DESIGN.md). Later stages
 * (evaluate, explain, serve, compare) read runs only through these types and paths.
 */
import path from 'node:path';
import type { DataSource } from '../data/types.js';

export type Phase = 'base' | 'augment';

export interface HistoryRow {
  phase: Phase;
  /** 1-based, counted over both phases (phase 2 continues the numbering). */
  epoch: number;
  loss: number;
  acc: number;
  val_loss: number;
  val_acc: number;
  seconds: number;
  lr: number;
}

export interface TrainHyperParams {
  epochs: number;
  augEpochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  valSplit: number;
  limit: number | null;
  earlyStop: number | null;
  lrSchedule: LrScheduleSpec;
}

export type LrScheduleSpec =
  | { kind: 'constant' }
  | { kind: 'step'; every: number; factor: number }
  | { kind: 'cosine'; minLr: number }
  | { kind: 'plateau'; patience: number; factor: number };

export interface RunConfig {
  id: string;
  model: string;
  createdAt: string;
  hyper: TrainHyperParams;
  augmentation: import('./augment.js').AugmentConfig;
  data: Pick<DataSource, 'kind' | 'dir' | 'files'> & { trainCount: number; valCount: number; testCount: number };
  backend: string;
  params: { total: number; trainable: number; nonTrainable: number };
  versions: Record<string, string>;
}

export const RUN_FILES = {
  config: 'config.json',
  history: 'history.jsonl',
  checkpoint: 'checkpoint',
  model: 'model',
  eval: 'eval.json',
  curvesSvg: 'curves.svg',
  curvesPng: 'curves.png',
  confusionPng: 'confusion.png',
  confusionSvg: 'confusion.svg',
  correctPng: 'correct.png',
  incorrectPng: 'incorrect.png',
  activationsPng: 'activations.png',
} as const;

export function runPath(runDir: string, file: keyof typeof RUN_FILES): string {
  return path.join(runDir, RUN_FILES[file]);
}
