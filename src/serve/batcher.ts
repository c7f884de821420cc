/**
 * Micro-batching of the model's work. Every classification the server answers is a forward pass
 * and a saliency gradient on one 28x28 frame; on the CPU, a batch of 8 costs about a third of 8
 * passes one by one (fewer, larger oneDNN calls; one tape, one set of kernel launches). Requests
 * whose preprocessing has finished are queued here, and the queue is run as one batch per model
 * a short window after its first frame (the server's batchWindowMs, 3 ms), or with windowMs 0 as
 * soon as the event loop has taken in everything that arrived ("batch whatever is queued"). While
 * a batch runs (synchronously, on this thread), the pool keeps preprocessing, and what it
 * finishes forms the next batch.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { topClassSaliency, type TopClassSaliency } from '../explain/saliency.js';
import type { TestTimeAugmentation } from '../models/tta.js';

/** What a request asks of the model: the run's test-time augmentation, and whether it wants the saliency map. */
export interface ModelAsk {
  tta: TestTimeAugmentation;
  saliency: boolean;
}

interface Job {
  frame: Float32Array;
  ask: ModelAsk;
  resolve: (r: TopClassSaliency) => void;
  reject: (e: unknown) => void;
}

export interface BatcherOptions {
  /** Most frames per forward/backward pass. */
  maxBatch: number;
  /** How long a batch waits for more frames after the first, ms (0: only what is queued when the loop comes round). */
  windowMs: number;
}

export interface BatchStats {
  batches: number;
  frames: number;
  largest: number;
}

export class ModelBatcher {
  private readonly queues = new Map<tfl.LayersModel, Job[]>();
  private scheduled = false;
  readonly stats: BatchStats = { batches: 0, frames: 0, largest: 0 };

  constructor(
    private readonly options: BatcherOptions,
    private readonly run: (model: tfl.LayersModel, frames: readonly Float32Array[], tta: TestTimeAugmentation, withSaliency: boolean) => TopClassSaliency[] = topClassSaliency,
  ) {}

  /**
   * The frame's probabilities, top class and (when asked) that class's saliency map, computed in a
   * batch with whatever else is queued for the model with the same ask.
   */
  classify(model: tfl.LayersModel, frame: Float32Array, ask: ModelAsk = { tta: 'none', saliency: true }): Promise<TopClassSaliency> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(model);
      if (!queue) this.queues.set(model, (queue = []));
      queue.push({ frame, ask, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate runs after the loop's I/O phase: every upload preprocessed by now joins the batch.
    if (this.options.windowMs > 0) setTimeout(() => this.flush(), this.options.windowMs);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    for (const [model, queue] of this.queues) {
      // One batch per model and ask: the first job's, with the queued jobs that ask the same (in order).
      const { ask } = queue[0];
      const jobs: Job[] = [];
      for (let i = 0; i < queue.length && jobs.length < Math.max(1, this.options.maxBatch); ) {
        if (queue[i].ask.tta === ask.tta && queue[i].ask.saliency === ask.saliency) jobs.push(...queue.splice(i, 1));
        else i++;
      }
      if (queue.length === 0) this.queues.delete(model);
      this.runBatch(model, jobs, ask);
    }
    // More than a batch was queued (or a model's queue refilled): the rest goes next, after the loop takes in new I/O.
    if (this.queues.size > 0) this.schedule();
  }

  private runBatch(model: tfl.LayersModel, jobs: Job[], ask: ModelAsk): void {
    let results: TopClassSaliency[];
    try {
      results = this.run(model, jobs.map((j) => j.frame), ask.tta, ask.saliency);
    } catch (e) {
      for (const j of jobs) j.reject(e);
      return;
    }
    this.stats.batches++;
    this.stats.frames += jobs.length;
    this.stats.largest = Math.max(this.stats.largest, jobs.length);
    jobs.forEach((j, i) => j.resolve(results[i]));
  }
}
