/**
 * Training is extended by callbacks, as in Keras: progress display, history file, checkpoints,
 * early stopping and learning-rate schedules are each one small callback on the same loop.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { HistoryRow, Phase } from '../runs/types.js';

export interface EpochInfo {
  phase: Phase;
  /** 1-based over both phases. */
  epoch: number;
  /** 1-based within the phase, and the planned epochs of the phase. */
  epochInPhase: number;
  phaseEpochs: number;
  steps: number;
}

export interface BatchInfo {
  step: number;
  steps: number;
  /** Running means over the epoch so far. */
  loss: number;
  acc: number;
}

/** What callbacks may read and steer. */
export interface TrainControl {
  model: tfl.LayersModel;
  /** Set by a callback to end the current phase after this epoch (early stopping). */
  stopPhase: boolean;
  getLearningRate(): number;
  setLearningRate(lr: number): void;
}

export interface TrainCallback {
  /** A name under which the callback's state is kept in checkpoints, if it has state. */
  readonly stateKey?: string;
  getState?(): unknown;
  setState?(state: unknown): void;
  onPhaseBegin?(ctl: TrainControl, phase: Phase): void | Promise<void>;
  onEpochBegin?(ctl: TrainControl, info: EpochInfo): void | Promise<void>;
  /** Before each training step; `step` is 1-based within the epoch. */
  onBatchBegin?(ctl: TrainControl, step: number, info: EpochInfo): void | Promise<void>;
  onBatchEnd?(ctl: TrainControl, info: BatchInfo): void | Promise<void>;
  onEpochEnd?(ctl: TrainControl, row: HistoryRow, info: EpochInfo): void | Promise<void>;
  onPhaseEnd?(ctl: TrainControl, phase: Phase): void | Promise<void>;
}

/** Ends a phase when validation loss has not improved for `patience` epochs (Keras EarlyStopping). */
export class EarlyStopping implements TrainCallback {
  readonly stateKey = 'earlyStopping';
  private best = Infinity;
  private wait = 0;

  constructor(private readonly patience: number, private readonly minDelta = 0) {}

  onPhaseBegin(): void {
    // Phase 2 changes the training data, so its patience starts afresh.
    this.best = Infinity;
    this.wait = 0;
  }

  onEpochEnd(ctl: TrainControl, row: HistoryRow): void {
    // A missing validation loss (null) never counts as an improvement.
    const valLoss = row.val_loss ?? NaN;
    if (valLoss < this.best - this.minDelta) {
      this.best = valLoss;
      this.wait = 0;
    } else if (++this.wait >= this.patience) {
      ctl.stopPhase = true;
    }
  }

  getState() {
    return { best: this.best, wait: this.wait };
  }

  setState(s: unknown): void {
    const st = s as { best: number | null; wait: number };
    this.best = st.best ?? Infinity; // JSON turns Infinity into null
    this.wait = st.wait;
  }
}
