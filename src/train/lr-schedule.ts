import { UserError } from '../util/errors.js';
import type { TrainCallback, TrainControl, EpochInfo } from './callbacks.js';
import type { HistoryRow, LrScheduleSpec } from '../runs/types.js';

export const LR_SCHEDULE_HELP =
  'constant | step:EVERY:FACTOR (multiply by FACTOR every EVERY epochs) | cosine[:MIN_LR] (cosine decay over all epochs) | plateau:PATIENCE:FACTOR (multiply by FACTOR when val_loss stalls) | onecycle[:WARMUP] (per step: up from 0 to --lr over the WARMUP share of all steps, default 0.25, then down to 0)';

export const DEFAULT_ONECYCLE_WARMUP = 0.25;

export function parseLrSchedule(text: string): LrScheduleSpec {
  const [kind, ...args] = text.split(':');
  const nums = args.map(Number);
  const bad = () => new UserError(`--lr-schedule: cannot read "${text}" (expected ${LR_SCHEDULE_HELP})`);
  if (nums.some((n) => !Number.isFinite(n) || n <= 0)) throw bad();
  switch (kind) {
    case 'constant':
      if (args.length) throw bad();
      return { kind: 'constant' };
    case 'step':
      if (args.length !== 2 || !Number.isInteger(nums[0]) || nums[1] >= 1) throw bad();
      return { kind: 'step', every: nums[0], factor: nums[1] };
    case 'cosine':
      if (args.length > 1) throw bad();
      return { kind: 'cosine', minLr: nums[0] ?? 0 };
    case 'plateau':
      if (args.length !== 2 || !Number.isInteger(nums[0]) || nums[1] >= 1) throw bad();
      return { kind: 'plateau', patience: nums[0], factor: nums[1] };
    case 'onecycle':
      if (args.length > 1 || (nums[0] ?? 0) >= 1) throw bad();
      return { kind: 'onecycle', warmup: nums[0] ?? DEFAULT_ONECYCLE_WARMUP };
    default:
      throw bad();
  }
}

/**
 * Refuses a schedule that would raise the rate above the base rate `lr` (the rate a run starts
 * from, after its recipe): a cosine decay "down" to a larger rate climbs instead, as a step factor
 * above 1 would (which parseLrSchedule refuses).
 */
export function checkLrSchedule(spec: LrScheduleSpec, lr: number): void {
  if (spec.kind === 'cosine' && spec.minLr > lr) {
    throw new UserError(`--lr-schedule cosine:${spec.minLr}: the rate it decays to is above the base rate --lr ${lr}; give a final rate below --lr (or a higher --lr)`);
  }
}

/**
 * Sets the learning rate from the schedule, at the start of each epoch (and, for `onecycle`, of
 * each step); the base rate is `lr`. The rate is a function of the position in training only (or,
 * for `plateau`, of its saved state), so a resumed run gets the same rates.
 */
export class LrScheduler implements TrainCallback {
  readonly stateKey = 'lrScheduler';
  private plateau = { best: Infinity, wait: 0, lr: 0 };

  constructor(private readonly spec: LrScheduleSpec, private readonly baseLr: number, private readonly totalEpochs: number) {
    this.plateau.lr = baseLr;
  }

  onEpochBegin(ctl: TrainControl, info: EpochInfo): void {
    ctl.setLearningRate(this.rateFor(info.epoch));
  }

  onBatchBegin(ctl: TrainControl, step: number, info: EpochInfo): void {
    if (this.spec.kind === 'onecycle') ctl.setLearningRate(this.rateAt(info.epoch, step, info.steps));
  }

  /** The one-cycle rate before step `step` (1-based) of `steps` in epoch `epoch` (1-based). */
  rateAt(epoch: number, step: number, steps: number): number {
    const warmup = this.spec.kind === 'onecycle' ? this.spec.warmup : DEFAULT_ONECYCLE_WARMUP;
    // Steps are counted as 1..total; the rate reaches `lr` at the end of the warm-up and 0 after the last step.
    const t = (epoch - 1 + step / steps) / this.totalEpochs;
    return t <= warmup ? (this.baseLr * t) / warmup : (this.baseLr * Math.max(0, 1 - t)) / (1 - warmup);
  }

  onEpochEnd(_ctl: TrainControl, row: HistoryRow): void {
    if (this.spec.kind !== 'plateau') return;
    const valLoss = row.val_loss ?? NaN;
    if (valLoss < this.plateau.best) {
      this.plateau.best = valLoss;
      this.plateau.wait = 0;
    } else if (++this.plateau.wait >= this.spec.patience) {
      this.plateau.lr *= this.spec.factor;
      this.plateau.wait = 0;
    }
  }

  rateFor(epoch: number): number {
    const s = this.spec;
    switch (s.kind) {
      case 'constant':
        return this.baseLr;
      case 'step':
        return this.baseLr * Math.pow(s.factor, Math.floor((epoch - 1) / s.every));
      case 'cosine': {
        const t = this.totalEpochs > 1 ? (epoch - 1) / (this.totalEpochs - 1) : 0;
        return s.minLr + 0.5 * (this.baseLr - s.minLr) * (1 + Math.cos(Math.PI * t));
      }
      case 'plateau':
        return this.plateau.lr;
      case 'onecycle':
        return this.rateAt(epoch, 0, 1);
    }
  }

  getState() {
    return { ...this.plateau, best: Number.isFinite(this.plateau.best) ? this.plateau.best : null };
  }

  setState(s: unknown): void {
    const st = s as { best: number | null; wait: number; lr: number };
    this.plateau = { best: st.best ?? Infinity, wait: st.wait, lr: st.lr };
  }
}
