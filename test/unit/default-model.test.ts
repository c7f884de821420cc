/**
 * The shipped default model (models/default/, a run directory made by `fashion-cnn train`): it
 * loads, is the model its record names, fits the size budget, and classifies at least 95% of the
 * first 1,000 test images right, with the test-time augmentation its record asks for.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { loadFashionMnist, toExamples } from '../../src/data/index.js';
import { lossAndAccuracy } from '../../src/evaluate/metrics.js';
import { predictProbs } from '../../src/evaluate/predict.js';
import { readEvalReport, readHistory, readRunConfig, loadRunModel } from '../../src/runs/index.js';
import { countParams } from '../../src/models/build.js';
import { REPO_ROOT } from '../helpers/cli.js';

const DIR = path.join(REPO_ROOT, 'models', 'default');
const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');
const MAX_BYTES = 10 * 1024 * 1024;

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await fs.stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

describe('the shipped default model', () => {
  it('is a complete run record whose model fits in 10 MB', async () => {
    const config = await readRunConfig(DIR);
    const history = await readHistory(DIR);
    const evalReport = await readEvalReport(DIR);
    assert.equal(history.length, config.hyper.epochs + config.hyper.augEpochs, 'every planned epoch is in the history');
    assert.ok(evalReport && evalReport.results.length > 0, 'eval.json holds the test results');
    const bytes = await folderBytes(path.join(DIR, 'model'));
    assert.ok(bytes <= MAX_BYTES, `model/ is ${bytes} bytes`);
  });

  it('gets at least 95% of the first 1,000 test images right', { skip: HAVE_DATA ? false : 'Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)' }, async () => {
    await initBackend();
    const config = await readRunConfig(DIR);
    const { model } = await loadRunModel(DIR);
    try {
      assert.deepEqual(countParams(model), config.params, 'the saved model is the one the record describes');
      const data = await loadFashionMnist();
      const first = toExamples(data.test, Uint32Array.from({ length: 1000 }, (_, i) => i));
      const { acc } = lossAndAccuracy(predictProbs(model, first, { tta: config.hyper.tta }), first.y);
      assert.ok(acc >= 0.95, `accuracy ${(acc * 100).toFixed(2)}% on the first 1,000 test images`);
    } finally {
      model.dispose();
    }
  });
});
