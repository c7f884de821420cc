/**
 * A model's price for the comparison's ETA (./eta.ts): a few training steps at the run's batch size
 * and optimizer, and an inference pass, timed on this host before the comparison starts (a few
 * seconds for the article's three CNNs). The model is built under a random stream of its own and
 * thrown away: the runs' own streams, weights and results are untouched. The first model measured
 * in a process pays for JavaScript's warm-up (V8 compiling TF.js's code as it runs): measureModelCosts
 * measures it twice and keeps the second.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NUM_CLASSES, type ImageSet } from '../data/types.js';
import { toExamples } from '../data/index.js';
import { buildModel } from '../models/build.js';
import type { ModelSpec } from '../models/registry.js';
import type { TrainHyperParams } from '../runs/index.js';
import { predictProbs } from '../evaluate/predict.js';
import { compileForTraining } from '../train/optimizer.js';
import { Rng, withSeededMathRandom } from '../util/rng.js';
import type { ModelCost } from './eta.js';

/** Steps before timing (the first builds oneDNN's primitives), and steps timed (their median counts). */
const WARMUP_STEPS = 3;
const TIMED_STEPS = 5;
/** Images of the timed inference pass (the validation pass's batch). */
const INFER_IMAGES = 1000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Seconds per training step and per inference image of `spec` trained with `hyper`, on the first images of `images`. */
export async function measureModelCost(spec: ModelSpec, hyper: Pick<TrainHyperParams, 'batchSize' | 'optimizer' | 'lr' | 'labelSmoothing' | 'tta'>, images: ImageSet): Promise<ModelCost> {
  const n = Math.min(images.count, Math.max(hyper.batchSize, INFER_IMAGES));
  const examples = toExamples(images, Uint32Array.from({ length: n }, (_, i) => i));
  const batch = Math.min(hyper.batchSize, n);
  return withSeededMathRandom(new Rng('compare-eta'), async () => {
    const model = await buildModel(spec);
    const optimizer = compileForTraining(model, hyper);
    const size = examples.x.length / n;
    const x = tf.tensor4d(examples.x.subarray(0, batch * size), [batch, ...examples.shape]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(examples.y.subarray(0, batch)), 'int32'), NUM_CLASSES));
    try {
      const steps: number[] = [];
      for (let i = 0; i < WARMUP_STEPS + TIMED_STEPS; i++) {
        const t0 = performance.now();
        await model.trainOnBatch(x, y);
        if (i >= WARMUP_STEPS) steps.push((performance.now() - t0) / 1000);
      }
      const infer = Math.min(n, INFER_IMAGES);
      const view = { x: examples.x.subarray(0, infer * size), count: infer, shape: examples.shape };
      predictProbs(model, view, { tta: hyper.tta }); // warm-up: inference primitives
      const t0 = performance.now();
      predictProbs(model, view, { tta: hyper.tta });
      const inferSeconds = (performance.now() - t0) / 1000;
      return { stepSeconds: median(steps), inferSecondsPerImage: inferSeconds / infer };
    } finally {
      tf.dispose([x, y]);
      model.dispose();
      optimizer.dispose();
    }
  });
}

/** Each model's price, in order; the first model is measured twice (see above). */
export async function measureModelCosts(models: { spec: ModelSpec; hyper: Parameters<typeof measureModelCost>[1] }[], images: ImageSet): Promise<ModelCost[]> {
  if (models.length > 0) await measureModelCost(models[0].spec, models[0].hyper, images);
  const costs: ModelCost[] = [];
  for (const m of models) costs.push(await measureModelCost(m.spec, m.hyper, images));
  return costs;
}
