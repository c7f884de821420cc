import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/backend/index.js';
import { saveModel } from '../../src/models/io.js';
import { ARTICLE_AUGMENTATION } from '../../src/train/augment.js';
import { loadFashionMnist, splitTrainVal } from '../../src/data/index.js';
import { runCli } from '../helpers/cli.js';
import { runEmbed, type EmbedRequest } from '../../src/explain/embed/index.js';
import { UserError } from '../../src/util/errors.js';

let tmp = '';
let runDir = '';
let noModelRun = '';

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'embed-cli-'));
  runDir = path.join(tmp, 'run-tiny');
  noModelRun = path.join(tmp, 'run-empty');
  await mkdir(noModelRun, { recursive: true });
  await initBackend('wasm');
  // A tiny trained-looking model: flatten -> Dense 8 (the "last hidden layer") -> softmax 10.
  const model = tfl.sequential({ name: 'tiny' });
  model.add(tfl.layers.flatten({ inputShape: [28, 28, 1], name: 'flat' }));
  model.add(tfl.layers.dense({ units: 8, activation: 'relu', name: 'hidden' }));
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax', name: 'out' }));
  await saveModel(model, path.join(runDir, 'model'));
  // Just the fields embed reads: the model name and the split the run trained with.
  await writeFile(path.join(runDir, 'config.json'), JSON.stringify({ id: 'run-tiny', model: 'tiny', hyper: { epochs: 1, augEpochs: 0, batchSize: 64, lr: 0.001, seed: 5, valSplit: 0.2, limit: 500 }, augmentation: ARTICLE_AUGMENTATION }));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const lines = (s: string) => s.trimEnd().split('\n');

test('embed --pixels --method pca: projection.json, plot and projector files with agreeing row counts', async () => {
  const out = path.join(tmp, 'pixels-pca');
  const r = await runCli(['embed', '--pixels', '--method', 'pca', '--count', '200', '--out', out, '--json', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.count, 200);
  assert.equal(summary.pca.explainedVariance.length, 10);
  assert.ok(Math.abs(summary.pca.explainedVariance.reduce((a: number, b: number) => a + b) - summary.pca.explainedTotal) < 1e-9);
  assert.ok(summary.pca.explainedVariance[0] > 0.2, 'PC1 of Fashion-MNIST pixels explains over a fifth of the variance');
  assert.ok(summary.quality.original > 0.5 && summary.quality.original <= 1);
  const rec = JSON.parse(await readFile(path.join(out, 'projection.json'), 'utf8'));
  assert.equal(rec.coords.length, 200);
  assert.equal(rec.labels.length, 200);
  assert.equal(rec.indices.length, 200);
  assert.equal(new Set(rec.indices).size, 200);
  assert.deepEqual(rec.classNames.length, 10);
  // Stratified: 20 of each class from the balanced test set.
  const perClass = new Array(10).fill(0);
  for (const l of rec.labels) perClass[l]++;
  assert.deepEqual(perClass, new Array(10).fill(20));
  const tensors = lines(await readFile(path.join(out, 'tensors.tsv'), 'utf8'));
  assert.equal(tensors.length, 200);
  assert.equal(tensors[0].split('\t').length, 784);
  const meta = lines(await readFile(path.join(out, 'metadata.tsv'), 'utf8'));
  assert.equal(meta.length, 201);
  const sprite = await sharp(path.join(out, 'sprite.png')).metadata();
  assert.equal(sprite.width, 15 * 28); // ceil(sqrt(200)) = 15
  assert.equal((await sharp(path.join(out, 'scatter.png')).metadata()).format, 'png');
  assert.match(await readFile(path.join(out, 'scatter.svg'), 'utf8'), /<svg/);
});

test('embed RUN_DIR: learned features of the layer before the classifier, or a chosen --layer', async () => {
  const out = path.join(tmp, 'run-tsne');
  const r = await runCli(['embed', runDir, '--method', 'tsne', '--count', '150', '--perplexity', '10', '--iterations', '300', '--dims', '3', '--out', out, '--json', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.deepEqual(summary.source, { kind: 'model', runDir, model: 'tiny', layer: 'hidden', dim: 8 });
  assert.equal(summary.dims, 3);
  assert.ok(Number.isFinite(summary.tsne.kl));
  const rec = JSON.parse(await readFile(path.join(out, 'projection.json'), 'utf8'));
  assert.equal(rec.coords[0].length, 3);
  assert.equal(lines(await readFile(path.join(out, 'tensors.tsv'), 'utf8'))[0].split('\t').length, 8);

  const out2 = path.join(tmp, 'run-layer');
  const r2 = await runCli(['embed', runDir, '--layer', 'out', '--method', 'umap', '--count', '100', '--epochs', '50', '--out', out2, '--json', '--backend', 'wasm']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(JSON.parse(r2.stdout).source.dim, 10);
});

test('--split val uses the run\'s own validation split (seed, fraction and limit from config.json)', async () => {
  const out = path.join(tmp, 'run-val');
  const r = await runCli(['embed', runDir, '--split', 'val', '--method', 'custom', '--left', 'shirt', '--right', 'boot', '--count', '100', '--out', out, '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /x axis: T-shirt\/top, Shirt \(\d+ points\) -> Ankle boot/);
  const rec = JSON.parse(await readFile(path.join(out, 'projection.json'), 'utf8'));
  const data = await loadFashionMnist({ onProgress: null });
  const val = new Set(splitTrainVal(data.train, { seed: 5, valFraction: 0.2, limit: 500 }).val.indices);
  assert.equal(val.size, 125);
  for (const i of rec.indices) assert.ok(val.has(i), `index ${i} is in the run's validation split`);
  assert.equal(rec.split, 'val');
});

test('bad input to runEmbed: a UserError with one clear line', async () => {
  const never = path.join(tmp, 'never');
  const cases: [EmbedRequest, RegExp][] = [
    [{ runDir, layer: 'nope', count: 50, method: 'pca', dims: 2 }, /^unknown layer "nope" \(layers: flat, hidden, out\)$/],
    [{ runDir, split: 'val', count: 200, method: 'pca', dims: 2 }, /^--count 200 is larger than the val split \(125 images\)$/],
    [{ runDir: noModelRun, method: 'pca', dims: 2 }, /holds no trained model/],
    [{ runDir: path.join(tmp, 'missing'), method: 'pca', dims: 2 }, /does not exist/],
    [{ method: 'pca', dims: 2 }, /needs RUN_DIR .* or --pixels/],
    [{ pixels: true, runDir, method: 'pca', dims: 2 }, /either RUN_DIR or --pixels, not both/],
    [{ pixels: true, count: 20000, method: 'pca', dims: 2 }, /--count must be an integer from 1 to 10000/],
    [{ pixels: true, layer: 'hidden', method: 'pca', dims: 2 }, /--layer needs RUN_DIR/],
    [{ pixels: true, method: 'custom', dims: 2, custom: { left: 'sandal', right: 'xyz' } }, /--right "xyz" matches no class/],
    [{ pixels: true, method: 'tsne', dims: 2, count: 60 }, /--perplexity 30 is too large for 60 points/],
  ];
  for (const [req, re] of cases) {
    await assert.rejects(runEmbed({ ...req, out: never, backend: 'wasm' }), (e: Error) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n'), JSON.stringify(req));
  }
});

test('bad input on the command line: one line on stderr, nothing on stdout, non-zero exit', async () => {
  const cases: [string[], RegExp][] = [
    [['embed'], /^fashion-cnn: embed needs RUN_DIR/],
    [['embed', '--pixels', '--method', 'pca', '--perplexity', '5'], /^fashion-cnn: --perplexity applies to --method tsne, not pca$/],
    [['embed', '--pixels', '--method', 'custom', '--left', 'sandal'], /^fashion-cnn: --method custom needs --left and --right/],
    [['embed', '--pixels', '--method', 'isomap'], /'isomap' is invalid. Allowed choices are pca, tsne, umap, custom/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli([...args, '--backend', 'wasm', '--out', path.join(tmp, 'never')])));
  results.forEach((r, i) => {
    assert.notEqual(r.code, 0, `${cases[i][0].join(' ')} should fail`);
    const errLines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('(run with'));
    assert.equal(errLines.length, 1, `one line: ${r.stderr}`);
    assert.match(errLines[0], cases[i][1]);
    assert.equal(r.stdout, '');
  });
});
