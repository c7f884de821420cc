/**
 * Would more test-time views than the mirror help? A run's validation (its own seeded split) and
 * test accuracy when the softmax is averaged over: the image alone; it and its mirror (`--tta
 * flip`); and both of those shifted by one pixel in each of four directions (10 views, the shifts
 * the training's pad-and-crop produces). Decide on validation; test is printed to report.
 *
 *   npx tsx bench/tta-views.ts RUN_DIR [RUN_DIR...]
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../src/backend/index.js';
import { loadFashionMnist, splitTrainVal, toExamples } from '../src/data/index.js';
import type { Examples } from '../src/data/types.js';
import { lossAndAccuracy } from '../src/evaluate/metrics.js';
import { loadRunModel, readRunConfig } from '../src/runs/index.js';

type View = { flip: boolean; dx: number; dy: number };
const SHIFTS = [
  [0, 0],
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
] as const;
const VIEW_SETS: Record<string, View[]> = {
  none: [{ flip: false, dx: 0, dy: 0 }],
  flip: [false, true].map((flip) => ({ flip, dx: 0, dy: 0 })),
  'flip + 1px shifts (10 views)': [false, true].flatMap((flip) => SHIFTS.map(([dx, dy]) => ({ flip, dx, dy }))),
};

/** The batch moved by (dx, dy) pixels with black coming in at the edge, as a padded crop would. */
function shifted(x: tf.Tensor4D, dx: number, dy: number): tf.Tensor4D {
  if (dx === 0 && dy === 0) return x;
  const [, h, w] = x.shape;
  const padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  return tf.slice(padded, [0, 1 - dy, 1 - dx, 0], [-1, h, w, -1]);
}

function meanProbs(model: tfl.LayersModel, ex: Examples, views: View[], batch = 500): Float32Array {
  const out = new Float32Array(ex.count * 10);
  const pixels = ex.x.length / ex.count;
  for (let start = 0; start < ex.count; start += batch) {
    const n = Math.min(batch, ex.count - start);
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(ex.x.subarray(start * pixels, (start + n) * pixels), [n, 28, 28, 1]);
      const sum = views.reduce<tf.Tensor>((acc, v) => {
        const moved = shifted(v.flip ? tf.reverse(x, 2) : x, v.dx, v.dy);
        return tf.add(acc, model.predict(moved, { batchSize: n }) as tf.Tensor2D);
      }, tf.zeros([n, 10]));
      return tf.div(sum, views.length);
    });
    out.set(probs.dataSync(), start * 10);
    probs.dispose();
  }
  return out;
}

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  process.stderr.write('usage: npx tsx bench/tta-views.ts RUN_DIR...\n');
  process.exit(2);
}
await initBackend();
const data = await loadFashionMnist();
const test = toExamples(data.test);
console.log('| run | test-time views | validation accuracy | test accuracy |\n|---|---|---|---|');
for (const dir of dirs) {
  const { hyper } = await readRunConfig(dir);
  const val = hyper.valSplit > 0 ? splitTrainVal(data.train, { seed: hyper.seed, valFraction: hyper.valSplit, limit: hyper.limit }).val : null;
  const { model } = await loadRunModel(dir);
  for (const [name, views] of Object.entries(VIEW_SETS)) {
    const valAcc = val ? `${(lossAndAccuracy(meanProbs(model, val, views), val.y).acc * 100).toFixed(2)}%` : '(no validation split)';
    const testAcc = lossAndAccuracy(meanProbs(model, test, views), test.y).acc;
    console.log(`| ${dir} | ${name} | ${valAcc} | ${(testAcc * 100).toFixed(2)}% |`);
  }
  model.dispose();
}
