/**
 * A sweep: models x grid settings x seeds, each combination one training run (a job). The command
 * line resolves every job's whole protocol (src/train/protocol.ts) before anything runs, so a job
 * carries all it needs, and a worker on another machine trains exactly what the sweep recorded.
 */
import type { AugmentConfig, TrainHyperParams } from '../runs/index.js';
import type { ModelOptions } from '../models/spec.js';
import type { Static } from 'typebox';
import type { SweepDefinitionSchema } from './records.js';
import { sameJson } from '../util/same-json.js';

/** One value of a grid setting, as given on the command line (`lr=0.001,0.0005`). */
export type GridValue = string | number;

/** What the user asked for: recorded in sweep.json; a second run of the same sweep must ask the same. */
export type SweepDefinition = Static<typeof SweepDefinitionSchema>;

/** One training run of the sweep. */
export interface SweepJob {
  /** The run's folder name under the sweep folder (also its BullMQ job id). */
  id: string;
  /** The configuration it belongs to: the model and grid settings, without the seed. */
  config: string;
  model: string;
  seed: number;
  /** This job's grid settings. */
  settings: Record<string, GridValue>;
  modelOptions: ModelOptions;
  hyper: TrainHyperParams;
  augmentation: AugmentConfig;
  pictures: boolean;
}

/** Every combination of the grid's values, in order (the first value of each setting first). */
export function gridCombinations(grid: readonly [string, readonly GridValue[]][]): Record<string, GridValue>[] {
  return grid.reduce<Record<string, GridValue>[]>((acc, [key, values]) => acc.flatMap((c) => values.map((v) => ({ ...c, [key]: v }))), [{}]);
}

/** A name made of letters, digits, '.', '_' and '-' only (a folder name and a run id). */
const safe = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, '_');

/** The configuration's name: the model, then each grid setting (`cnn3-lr0.001-label-smoothing0.1`). */
export function configName(model: string, settings: Record<string, GridValue>): string {
  return safe([model, ...Object.entries(settings).map(([k, v]) => `${k}${v}`)].join('-'));
}

export const jobId = (config: string, seed: number) => `${config}-s${seed}`;

/**
 * The first difference between a recorded definition and a new one, as one phrase, or null when
 * they are the same sweep.
 */
export function definitionDifference(recorded: SweepDefinition, asked: SweepDefinition): string | null {
  const show = (v: unknown) => (Array.isArray(v) ? v.map((x) => (Array.isArray(x) ? `${x[0]}=${(x[1] as unknown[]).join(',')}` : String(x))).join(' ') || '(none)' : String(v));
  for (const key of ['models', 'seeds', 'grid', 'flags'] as const) {
    if (!sameJson(recorded[key], asked[key])) return `${key} ${show(asked[key])} (recorded: ${show(recorded[key])})`;
  }
  return null;
}
