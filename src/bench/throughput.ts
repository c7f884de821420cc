/**
 * Throughput of one model on the current backend, measured the way PyTorch's reference script
 * measures it: the median of full training steps (forward, backward, Adam, dropout) at batch 256
 * after warm-up, and the median inference pass over 1,000 images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NUM_CLASSES } from '../data/types.js';
import { buildModel } from '../models/build.js';
import { compileForTraining, DEFAULT_OPTIMIZER } from '../train/optimizer.js';
import { formatShape, shapeSize } from '../models/shape.js';
import type { ModelSpec } from '../models/spec.js';
import { UserError } from '../util/errors.js';
import { Rng, withSeededMathRandom } from '../util/rng.js';
import { modelFlops } from './flops.js';
import { median } from './median.js';

export interface ThroughputOptions {
  batchSize: number;
  trainSteps: number;
  warmup: number;
  inferBatch: number;
  inferRepeats: number;
}

export const DEFAULT_THROUGHPUT: ThroughputOptions = { batchSize: 256, trainSteps: 10, warmup: 3, inferBatch: 1000, inferRepeats: 5 };

export interface Throughput {
  trainImgPerS: number;
  inferImgPerS: number;
  stepMs: number;
  /** FLOPs per image of a training step and of inference, counted from the model's layers (./flops.ts). */
  trainFlopsPerImage: number;
  inferFlopsPerImage: number;
  /** Peak resident memory of the process seen during the measurement, MB. */
  peakRssMb: number;
}

/** Called around the timed training steps (after the warm-up), e.g. to profile them. */
export interface TimedStepsHooks {
  beforeTimedSteps(): void;
  afterTimedSteps(): void;
}

export async function measureThroughput(spec: ModelSpec, images: Float32Array, labels: Uint8Array, o: ThroughputOptions = DEFAULT_THROUGHPUT, hooks?: TimedStepsHooks): Promise<Throughput> {
  const rng = new Rng('bench');
  return withSeededMathRandom(rng, async () => {
    const model = await buildModel(spec);
    const flops = modelFlops(model);
    const optimizer = compileForTraining(model, { optimizer: DEFAULT_OPTIMIZER, lr: 0.001, labelSmoothing: 0 });
    const size = shapeSize(spec.input);
    const available = labels.length;
    if (images.length !== available * size) throw new UserError(`${spec.name} takes ${formatShape(spec.input)} images; ${images.length} values are not ${available} of them`);
    let peak = process.memoryUsage().rss;
    const batch = (n: number, offset: number) => {
      const start = offset % Math.max(1, available - n + 1);
      const x = tf.tensor4d(images.subarray(start * size, (start + n) * size), [n, ...spec.input]);
      const y = tf.oneHot(tf.tensor1d(Array.from(labels.subarray(start, start + n)), 'int32'), NUM_CLASSES);
      return { x, y };
    };
    const times: number[] = [];
    for (let i = 0; i < o.warmup + o.trainSteps; i++) {
      if (i === o.warmup) hooks?.beforeTimedSteps();
      const { x, y } = batch(o.batchSize, i * o.batchSize);
      const t0 = performance.now();
      await model.trainOnBatch(x, y);
      const dt = performance.now() - t0;
      x.dispose();
      y.dispose();
      if (i >= o.warmup) times.push(dt);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    hooks?.afterTimedSteps();
    const inferTimes: number[] = [];
    const { x, y } = batch(o.inferBatch, 0);
    y.dispose();
    for (let r = 0; r < o.inferRepeats + 1; r++) {
      const t0 = performance.now();
      const out = model.predict(x, { batchSize: o.inferBatch }) as tf.Tensor;
      await out.data();
      out.dispose();
      if (r > 0) inferTimes.push(performance.now() - t0);
    }
    x.dispose();
    model.dispose();
    optimizer.dispose();
    const step = median(times);
    return {
      trainImgPerS: (o.batchSize * 1000) / step,
      inferImgPerS: (o.inferBatch * 1000) / median(inferTimes),
      stepMs: step,
      trainFlopsPerImage: flops.training,
      inferFlopsPerImage: flops.inference,
      peakRssMb: peak / 2 ** 20,
    };
  });
}
