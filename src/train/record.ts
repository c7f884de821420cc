/**
 * The record of one training run, as files in runs/<id>/ (see ../shared/DESIGN.md). Later stages
 * (evaluate, explain, serve, compare) read runs only through these types and paths.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DataSource } from '../data/types.js';
import { UserError } from '../util/errors.js';

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

/**
 * Where a run's trained model is: the final model/, else the latest checkpoint's model (a run
 * still training or interrupted). A clear error when the folder or any model is missing.
 */
export async function locateRunModel(runDir: string): Promise<{ dir: string; fromCheckpoint: boolean }> {
  const stat = await fs.stat(runDir).catch(() => null);
  if (!stat) throw new UserError(`run directory ${runDir} does not exist`);
  if (!stat.isDirectory()) throw new UserError(`${runDir} is not a run directory`);
  const finalDir = runPath(runDir, 'model');
  const checkpointDir = path.join(runPath(runDir, 'checkpoint'), 'model');
  if (await fs.stat(path.join(finalDir, 'model.json')).catch(() => null)) return { dir: finalDir, fromCheckpoint: false };
  if (await fs.stat(path.join(checkpointDir, 'model.json')).catch(() => null)) return { dir: checkpointDir, fromCheckpoint: true };
  throw new UserError(`${runDir} holds no trained model (neither model/model.json nor checkpoint/model/model.json)`);
}
