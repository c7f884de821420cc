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
  checkExamples(model, examples);
  const out = new Float32Array(examples.count * classCount(model));
  for (let start = 0; start < examples.count; start += batchSize) {
    predictInto(out, model, examples, start, Math.min(batchSize, examples.count - start), opts.tta);
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
  checkExamples(model, examples);
  const out = new Float32Array(examples.count * classCount(model));
  const progress = new ImageProgress(opts.label, examples.count, opts.stream);
  try {
    for (let start = 0; start < examples.count; start += batchSize) {
      const count = Math.min(batchSize, examples.count - start);
      predictInto(out, model, examples, start, count, opts.tta);
      progress.update(start + count);
      await yieldToEventLoop();
    }
  } finally {
    progress.stop();
  }
  return out;
}

function classCount(model: tfl.LayersModel): number {
  return model.outputs[0].shape[1] ?? 10;
}

/** Softmax outputs of examples [start, start + n) written into `out` at their rows: one batch, both passes' step. */
function predictInto(out: Float32Array, model: tfl.LayersModel, examples: Pick<Examples, 'x' | 'shape'>, start: number, n: number, tta: TestTimeAugmentation = 'none'): void {
  const size = shapeSize(examples.shape);
  const probs = tf.tidy(() => {
    const x = tf.tensor4d(examples.x.subarray(start * size, (start + n) * size), [n, ...examples.shape]);
    return predictBatch(model, x, tta);
  });
  out.set(probs.dataSync() as Float32Array, start * classCount(model));
  probs.dispose();
}

/** The examples' shape must be the model's and their values count x that shape. */
function checkExamples(model: tfl.LayersModel, examples: Pick<Examples, 'x' | 'count' | 'shape'>): void {
  const wants = modelImageShape(model);
  if (!sameShape(examples.shape, wants)) {
    throw new UserError(`the model "${model.name}" takes ${formatShape(wants)} images, but the examples are ${formatShape(examples.shape)}`);
  }
  const size = shapeSize(examples.shape);
  if (examples.x.length !== examples.count * size) {
    throw new Error(`examples hold ${examples.x.length} values, not ${examples.count} images of ${formatShape(examples.shape)}`);
  }
}
