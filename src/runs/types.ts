/**
 * The record of one training run, as types: what config.json, history.jsonl, eval.json (derived
 * from their schemas in records.ts) and a checkpoint's state.json hold. Every stage that reads or
 * writes a run uses these types through this folder (src/runs), which is the only code that knows
 * the files.
 */
import type { RngState } from '../util/rng.js';

export {
  RUN_FORMAT,
  type AugmentConfig,
  type ClassMetrics,
  type DistillSettings,
  type EvalReport,
  type EvalResult,
  type HistoryRow,
  type LrScheduleSpec,
  type OptimizerSpec,
  type ParamCounts,
  type Phase,
  type RunConfig,
  type TeacherRecord,
  type TrainHyperParams,
} from './records.js';
import type { HistoryRow, Phase } from './records.js';

/** A checkpoint's state.json: everything besides weights that a resumed run needs. */
export interface TrainState {
  /** Epochs completed in each phase. */
  epochsDone: Record<Phase, number>;
  /** Phases finished (all epochs run, or ended early) and evaluated. */
  phasesDone: Phase[];
  /** Set when early stopping ended the phase that is in progress. */
  phaseStopped: boolean;
  rng: { shuffle: RngState; augment: RngState; dropout: RngState };
  callbacks: Record<string, unknown>;
  history: HistoryRow[];
  learningRate: number;
}
