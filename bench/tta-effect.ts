/**
 * What test-time flip averaging buys a trained run: its test accuracy and loss with and without
 * it, on the same weights (so the difference is the averaging alone).
 *
 *   npx tsx bench/tta-effect.ts RUN_DIR [RUN_DIR...]
 */
import { initBackend } from '../src/backend/index.js';
import { loadFashionMnist, toExamples } from '../src/data/index.js';
import { lossAndAccuracy } from '../src/evaluate/metrics.js';
import { predictProbs } from '../src/evaluate/predict.js';
import { TTA_CHOICES } from '../src/models/tta.js';
import { loadRunModel } from '../src/runs/index.js';

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  process.stderr.write('usage: npx tsx bench/tta-effect.ts RUN_DIR...\n');
  process.exit(2);
}
await initBackend();
const test = toExamples((await loadFashionMnist()).test);
console.log('| run | test-time augmentation | test loss | test accuracy |\n|---|---|---|---|');
for (const dir of dirs) {
  const { model } = await loadRunModel(dir);
  for (const tta of TTA_CHOICES) {
    const { loss, acc } = lossAndAccuracy(predictProbs(model, test, { tta }), test.y);
    console.log(`| ${dir} | ${tta} | ${loss.toFixed(4)} | ${(acc * 100).toFixed(2)}% |`);
  }
  model.dispose();
}
