/**
 * The comparison's overall progress, one line after each epoch and around each model: which model
 * of how many, epochs done of all, time so far and the estimate of the time left (./eta.ts).
 *
 *   compare: model 2 of 3 (cnn3), 23 of 180 epochs done; 5 min 02 s so far, about 31 min left (until 23:14)
 */
import type { TrainCallback } from '../train/callbacks.js';
import type { CompareEta } from './eta.js';
import { formatDuration } from '../util/format.js';

const clockTime = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;

export class CompareProgress {
  private readonly started: number;
  private modelStarted = 0;
  private current = -1;

  constructor(
    private readonly eta: CompareEta,
    private readonly log: (line: string) => void,
    private readonly now: () => number = () => performance.now(),
    private readonly wallClock: () => Date = () => new Date(),
  ) {
    this.started = now();
  }

  /** The callback that follows model `index`'s training (given to its run). */
  callbackFor(index: number): TrainCallback {
    let first = true;
    return {
      onEpochBegin: (_ctl, info) => {
        if (!first) return;
        first = false;
        // A resumed run starts past its first epoch: what it did before counts as done.
        const base = this.eta.plans[index].phases.find((p) => p.phase === 'base')?.epochs ?? 0;
        this.eta.alreadyDone(index, info.phase === 'base' ? { base: info.epochInPhase - 1, augment: 0 } : { base, augment: info.epochInPhase - 1 });
      },
      onEpochEnd: (_ctl, row) => {
        this.eta.epochDone(index, row.phase, row.seconds);
        this.report();
      },
    };
  }

  modelStart(index: number): void {
    this.current = index;
    this.modelStarted = this.now();
    this.report();
  }

  /** Model `index` ended (trained, or skipped: then without a wall time). */
  modelEnd(index: number, trained: boolean): void {
    this.eta.modelFinished(index, trained ? (this.now() - this.modelStarted) / 1000 : undefined);
    if (trained) this.report();
  }

  /** The progress line as it stands. */
  line(): string {
    const plans = this.eta.plans;
    const k = Math.max(0, this.current);
    const head = `compare: model ${k + 1} of ${plans.length} (${plans[k]?.model ?? '-'}), ${this.eta.epochsDone} of ${this.eta.epochsTotal} epochs done`;
    const elapsed = (this.now() - this.started) / 1000;
    const left = this.eta.remaining();
    if (!left) return `${head}; ${formatDuration(elapsed)} so far, time left not known yet`;
    const until = new Date(this.wallClock().getTime() + left.seconds * 1000);
    const unpriced = left.complete ? '' : ', not counting models not measured yet';
    return `${head}; ${formatDuration(elapsed)} so far, about ${formatDuration(left.seconds)} left${unpriced} (until ${clockTime(until)})`;
  }

  private report(): void {
    this.log(this.line());
  }
}
