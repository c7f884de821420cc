/**
 * Running a feature extractor over a set of images in batches, with a progress bar (and ETA) on a
 * terminal and a plain line every 15 s elsewhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Examples, ImageShape } from '../data/types.js';
import { ImageProgress, yieldToEventLoop } from '../util/image-progress.js';

export interface ExtractOptions {
  batchSize?: number;
  /** Shown before the bar. */
  label: string;
  stream?: NodeJS.WriteStream;
  /** Called with each batch's features, in order (the cache digests them as they come). */
  onBatch?: (features: Float32Array) => void;
}

export async function extractFeatures(model: tfl.LayersModel, images: Examples, featureShape: ImageShape, opts: ExtractOptions): Promise<Float32Array> {
  const batchSize = opts.batchSize ?? 128;
  const [h, w, c] = images.shape;
  const per = h * w * c;
  const outPer = featureShape[0] * featureShape[1] * featureShape[2];
  const out = new Float32Array(images.count * outPer);
  const progress = new ImageProgress(opts.label, images.count, opts.stream);
  try {
    for (let start = 0; start < images.count; start += batchSize) {
      const n = Math.min(batchSize, images.count - start);
      const y = tf.tidy(() => model.predict(tf.tensor4d(images.x.subarray(start * per, (start + n) * per), [n, h, w, c])) as tf.Tensor);
      const values = await y.data<'float32'>();
      out.set(values, start * outPer);
      opts.onBatch?.(values);
      y.dispose();
      progress.update(start + n);
      await yieldToEventLoop();
    }
  } finally {
    progress.stop();
  }
  return out;
}
