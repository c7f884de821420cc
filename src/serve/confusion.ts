/**
 * The test images behind one cell of a run's confusion matrix (true class t predicted as p), as a
 * grid picture. The run's predictions on the 10,000 test images are computed once per model and
 * kept: one batched pass is well under a second for the article's models on the native backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { loadFashionMnist, toExamples } from '../data/index.js';
import { IMAGE_SIZE, PIXELS, type Examples } from '../data/types.js';
import { predictBatch } from '../models/tta.js';
import type { ServedModel } from './models.js';

export interface ConfusionConfig {
  /** Images per side of the grid (6: up to 36 images). */
  gridSide: number;
  /** Pixels per image in the picture. */
  scale: number;
  batchSize: number;
}

export const DEFAULT_CONFUSION_CONFIG: ConfusionConfig = { gridSide: 6, scale: 2, batchSize: 1000 };

export class ConfusionImages {
  private test: Promise<Examples> | null = null;
  private readonly predictions = new WeakMap<tfl.LayersModel, Uint8Array>();

  constructor(private readonly dataDir: string | undefined, private readonly config = DEFAULT_CONFUSION_CONFIG) {}

  private testSet(): Promise<Examples> {
    this.test ??= loadFashionMnist({ dataDir: this.dataDir }).then((d) => toExamples(d.test));
    this.test.catch(() => (this.test = null));
    return this.test;
  }

  /** The run's predicted class for every test image, with its test-time augmentation (as its eval.json). */
  private predict({ model, tta }: ServedModel, ex: Examples): Uint8Array {
    let out = this.predictions.get(model);
    if (out) return out;
    out = new Uint8Array(ex.count);
    for (let start = 0; start < ex.count; start += this.config.batchSize) {
      const n = Math.min(this.config.batchSize, ex.count - start);
      const batch = ex.x.subarray(start * PIXELS, (start + n) * PIXELS);
      out.set(tf.tidy(() => tf.argMax(predictBatch(model, tf.tensor4d(batch, [n, ...ex.shape]), tta), -1).dataSync()), start);
    }
    this.predictions.set(model, out);
    return out;
  }

  /** A PNG grid of up to gridSide² test images of class `t` that the model classifies as `p` (test order). */
  async png(served: ServedModel, t: number, p: number): Promise<{ png: Buffer; count: number }> {
    const ex = await this.testSet();
    const pred = this.predict(served, ex);
    const { gridSide: side, scale } = this.config;
    const picked: number[] = [];
    for (let i = 0; i < ex.count && picked.length < side * side; i++) if (ex.y[i] === t && pred[i] === p) picked.push(i);
    const cols = Math.max(1, Math.min(side, picked.length));
    const rows = Math.max(1, Math.ceil(picked.length / side));
    const grid = new Uint8Array(cols * rows * PIXELS);
    const width = cols * IMAGE_SIZE;
    picked.forEach((img, k) => {
      const ox = (k % side) * IMAGE_SIZE;
      const oy = Math.floor(k / side) * IMAGE_SIZE;
      for (let y = 0; y < IMAGE_SIZE; y++) {
        for (let x = 0; x < IMAGE_SIZE; x++) grid[(oy + y) * width + ox + x] = Math.round(ex.x[img * PIXELS + y * IMAGE_SIZE + x] * 255);
      }
    });
    const png = await sharp(grid, { raw: { width, height: rows * IMAGE_SIZE, channels: 1 } }).resize(width * scale, rows * IMAGE_SIZE * scale, { kernel: 'nearest' }).png().toBuffer();
    return { png, count: picked.length };
  }
}
