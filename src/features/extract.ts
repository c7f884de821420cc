/**
 * Running a feature extractor over a set of images in batches, with a progress bar (and ETA) on a
 * terminal and a plain line every 15 s elsewhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import cliProgress from 'cli-progress';
import type { Examples, ImageShape } from '../data/types.js';

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
  const stream = opts.stream ?? process.stderr;
  const [h, w, c] = images.shape;
  const per = h * w * c;
  const outPer = featureShape[0] * featureShape[1] * featureShape[2];
  const out = new Float32Array(images.count * outPer);
  const started = Date.now();
  let lastLine = started;
  const bar = stream.isTTY
    ? new cliProgress.SingleBar({ stream, format: `${opts.label} |{bar}| {value}/{total} images | {rate} img/s | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(images.count, 0, { rate: '-' });
  for (let start = 0; start < images.count; start += batchSize) {
    const n = Math.min(batchSize, images.count - start);
    const y = tf.tidy(() => model.predict(tf.tensor4d(images.x.subarray(start * per, (start + n) * per), [n, h, w, c])) as tf.Tensor);
    const values = await y.data<'float32'>();
    out.set(values, start * outPer);
    opts.onBatch?.(values);
    y.dispose();
    const done = start + n;
    const rate = done / Math.max(1e-3, (Date.now() - started) / 1000);
    bar?.update(done, { rate: rate.toFixed(0) });
    if (!bar && Date.now() - lastLine > 15_000) {
      lastLine = Date.now();
      stream.write(`  ${opts.label}: ${done}/${images.count} images, ${rate.toFixed(0)} img/s, ETA ${Math.round((images.count - done) / rate)}s\n`);
    }
    await new Promise((r) => setImmediate(r)); // lets a stop request or a signal in between batches
  }
  bar?.stop();
  return out;
}
