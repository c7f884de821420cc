import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Examples } from '../data/types.js';
import { formatShape, modelImageShape, sameShape, shapeSize } from '../models/shape.js';
import { predictBatch, type TestTimeAugmentation } from '../models/tta.js';
import { UserError } from '../util/errors.js';
import { ImageProgress, yieldToEventLoop } from '../util/image-progress.js';

/** Inference batch: large enough to amortise per-call overhead, small enough for little memory. */
export const PREDICT_BATCH = 1000;

export interface PredictOptions {
  /** Images per call (default PREDICT_BATCH). */
  batchSize?: number;
  /** Test-time augmentation (default none). */
  tta?: TestTimeAugmentation;
}

/** Softmax outputs for every example (count x classes), computed in inference mode, batch by batch. */
export function predictProbs(model: tfl.LayersModel, examples: Pick<Examples, 'x' | 'count' | 'shape'>, opts: PredictOptions = {}): Float32Array {
  const batchSize = opts.batchSize ?? PREDICT_BATCH;
  const size = checkExamples(model, examples);
  const classes = model.outputs[0].shape[1] ?? 10;
  const out = new Float32Array(examples.count * classes);
  for (let start = 0; start < examples.count; start += batchSize) {
    const n = Math.min(batchSize, examples.count - start);
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(examples.x.subarray(start * size, (start + n) * size), [n, ...examples.shape]);
      return predictBatch(model, x, opts.tta ?? 'none');
    });
    out.set(probs.dataSync() as Float32Array, start * classes);
    probs.dispose();
  }
  return out;
}

/**
 * predictProbs for a pass long enough to watch (a teacher's answers for 60k images): the same
 * values, with progress, and the event loop let through between batches so that a signal's handler
 * runs (Ctrl-C or SIGTERM ends `train` there; a sweep's stop request is still taken between epochs).
 */
export async function predictProbsWithProgress(
  model: tfl.LayersModel,
  examples: Pick<Examples, 'x' | 'count' | 'shape'>,
  opts: PredictOptions & { label: string; stream?: NodeJS.WriteStream },
): Promise<Float32Array> {
  const batchSize = opts.batchSize ?? PREDICT_BATCH;
  const size = checkExamples(model, examples);
  const classes = model.outputs[0].shape[1] ?? 10;
  const out = new Float32Array(examples.count * classes);
  const progress = new ImageProgress(opts.label, examples.count, opts.stream);
  try {
    for (let start = 0; start < examples.count; start += batchSize) {
      const count = Math.min(batchSize, examples.count - start);
      const chunk = { x: examples.x.subarray(start * size, (start + count) * size), count, shape: examples.shape };
      out.set(predictProbs(model, chunk, { batchSize, tta: opts.tta }), start * classes);
      progress.update(start + count);
      await yieldToEventLoop();
    }
  } finally {
    progress.stop();
  }
  return out;
}

/** The examples' shape must be the model's and their values count x that shape; returns the values per image. */
function checkExamples(model: tfl.LayersModel, examples: Pick<Examples, 'x' | 'count' | 'shape'>): number {
  const wants = modelImageShape(model);
  if (!sameShape(examples.shape, wants)) {
    throw new UserError(`the model "${model.name}" takes ${formatShape(wants)} images, but the examples are ${formatShape(examples.shape)}`);
  }
  const size = shapeSize(examples.shape);
  if (examples.x.length !== examples.count * size) {
    throw new Error(`examples hold ${examples.x.length} values, not ${examples.count} images of ${formatShape(examples.shape)}`);
  }
  return size;
}
