/**
 * How long a comparison has left: each model's epochs, priced by a short measurement of the model
 * made before the comparison starts (./calibrate.ts: seconds per training step and per inference
 * image), scaled by what the epochs actually take on this host as they finish.
 *
 * FLOPs alone would not do: a small model runs far below the machine's peak (cnn1 at about a fifth,
 * cnn4 at half), so pricing cnn4 by cnn1's FLOP rate would overstate it about threefold. A step
 * measured on each model already holds its efficiency. What the measurement cannot see is fitted
 * from the finished epochs:
 *
 *   epoch(m, phase) = k * (steps * step_m + validation images * inference_m) + [phase 2] a * images
 *
 * k (the host's speed now against the measurement's) from clean epochs; a (the augmentation's
 * seconds per image, the same for every model) from augmented ones; and the time a model spends
 * outside its epochs (test evaluations, pictures) from the models already finished. The model in
 * training is priced by its own finished epochs once it has some. Medians rather than means: a
 * model's first epoch also pays for its warm-up.
 */
import type { Phase } from '../runs/types.js';

export interface ModelCost {
  /** Seconds of one training step at the run's batch size. */
  stepSeconds: number;
  /** Seconds per image of inference (validation), test-time views included. */
  inferSecondsPerImage: number;
}

export interface PhasePlan {
  phase: Phase;
  epochs: number;
  stepsPerEpoch: number;
  /** Images trained on per epoch (augmented ones in phase 2). */
  imagesPerEpoch: number;
}

export interface ModelPlan {
  model: string;
  phases: PhasePlan[];
  /** Validation images per epoch. */
  valImages: number;
  /** Null when the model could not be measured beforehand (a transfer model, which trains on cached features). */
  cost: ModelCost | null;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

interface Observed {
  model: number;
  phase: Phase;
  seconds: number;
}

export class CompareEta {
  private readonly done: Record<Phase, number>[];
  private readonly finished: boolean[];
  private readonly observed: Observed[] = [];
  /** Seconds each finished model spent outside its epochs (in this process). */
  private readonly overheads: number[] = [];

  constructor(readonly plans: readonly ModelPlan[]) {
    this.done = plans.map(() => ({ base: 0, augment: 0 }));
    this.finished = plans.map(() => false);
  }

  /** Epochs a model had done before this process (a resumed run). */
  alreadyDone(model: number, epochs: Record<Phase, number>): void {
    this.done[model] = { ...epochs };
  }

  epochDone(model: number, phase: Phase, seconds: number): void {
    this.done[model][phase]++;
    this.observed.push({ model, phase, seconds });
  }

  /** The model is finished (also when it stopped early, or was skipped): nothing of it remains. */
  modelFinished(model: number, wallSeconds?: number): void {
    this.finished[model] = true;
    if (wallSeconds === undefined) return;
    const inEpochs = this.observed.filter((o) => o.model === model).reduce((s, o) => s + o.seconds, 0);
    this.overheads.push(Math.max(0, wallSeconds - inEpochs));
  }

  get epochsTotal(): number {
    return this.plans.reduce((s, p) => s + p.phases.reduce((t, ph) => t + ph.epochs, 0), 0);
  }

  get epochsDone(): number {
    // A finished model counts all its epochs (early stopping ends a phase before its last epoch).
    return this.plans.reduce((s, p, i) => s + (this.finished[i] ? p.phases.reduce((t, ph) => t + ph.epochs, 0) : this.done[i].base + this.done[i].augment), 0);
  }

  private compute(model: number, phase: PhasePlan): number {
    const { cost, valImages } = this.plans[model];
    return cost ? phase.stepsPerEpoch * cost.stepSeconds + valImages * cost.inferSecondsPerImage : 0;
  }

  private phasePlan(model: number, phase: Phase): PhasePlan | undefined {
    return this.plans[model].phases.find((p) => p.phase === phase);
  }

  /**
   * The host's speed against the measurement: the median over clean epochs of measured models
   * (of `models` only, when given) of observed over predicted seconds. A median, because a model's
   * first epoch also pays for its warm-up (oneDNN builds its primitives then).
   */
  private speedFactor(models?: (m: number) => boolean): number | null {
    const ratios: number[] = [];
    for (const o of this.observed) {
      const plan = this.phasePlan(o.model, o.phase);
      if (o.phase !== 'base' || !plan || !this.plans[o.model].cost || (models && !models(o.model))) continue;
      const predicted = this.compute(o.model, plan);
      if (predicted > 0) ratios.push(o.seconds / predicted);
    }
    return ratios.length ? median(ratios) : null;
  }

  /** Augmentation seconds per image: the median, over augmented epochs, of what their compute does not explain. */
  private augmentSecondsPerImage(k: number): number {
    const perImage: number[] = [];
    for (const o of this.observed) {
      const plan = this.phasePlan(o.model, o.phase);
      if (o.phase !== 'augment' || !plan || !this.plans[o.model].cost || plan.imagesPerEpoch === 0) continue;
      const kModel = this.speedFactor((m) => m === o.model) ?? k;
      perImage.push((o.seconds - kModel * this.compute(o.model, plan)) / plan.imagesPerEpoch);
    }
    return perImage.length ? Math.max(0, median(perImage)) : 0;
  }

  /**
   * Seconds left, and whether every remaining model is priced (a transfer model is not until its
   * first epoch ends); null before anything can be priced.
   */
  remaining(): { seconds: number; complete: boolean } | null {
    const k = this.speedFactor() ?? 1;
    const a = this.augmentSecondsPerImage(k);
    const overhead = this.overheads.length ? this.overheads.reduce((s, x) => s + x, 0) / this.overheads.length : 0;
    let seconds = 0;
    let complete = true;
    let pricedEpochs = 0;
    this.plans.forEach((plan, m) => {
      if (this.finished[m]) return;
      const kModel = this.speedFactor((i) => i === m) ?? k;
      for (const phase of plan.phases) {
        const left = Math.max(0, phase.epochs - this.done[m][phase.phase]);
        if (left === 0) continue;
        const own = this.observed.filter((o) => o.model === m && o.phase === phase.phase);
        let epoch: number | null;
        if (own.length > 0) epoch = median(own.map((o) => o.seconds));
        else if (plan.cost) epoch = kModel * this.compute(m, phase) + (phase.phase === 'augment' ? a * phase.imagesPerEpoch : 0);
        else epoch = null;
        if (epoch === null) complete = false;
        else {
          seconds += left * epoch;
          pricedEpochs += left;
        }
      }
      seconds += overhead;
    });
    // Epochs remain, and none of them has a price yet: no estimate at all.
    return !complete && pricedEpochs === 0 ? null : { seconds, complete };
  }
}
