/**
 * `predict` without a run directory: the shipped default model (models/default, found from the
 * package's own location, or $FASHION_CNN_DEFAULT_MODEL / an explicit override), the three ways to
 * name a run, the missing-default message, test-time flip from a run's config.json, and the
 * library's `classify`. The model is a copy of the shared tiny trained cnn1 (test/helpers/trained-run.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../src/backend/index.js';
import { classify } from '../../src/index.js';
import { loadRunModel } from '../../src/runs/index.js';
import { DEFAULT_MODEL_ENV, defaultModelDir, requireDefaultModel } from '../../src/runs/default-model.js';
import { packageRoot } from '../../src/util/package-root.js';
import { looksLikeRunDir, mirrorFrame, predictFrames, preprocessImage } from '../../src/predict/index.js';
import { runCli, REPO_ROOT } from '../helpers/cli.js';
import { simplePhoto } from '../helpers/predict-fixtures.js';
import { copyTrainedRun } from '../helpers/trained-run.js';

const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const skip = HAVE_DATA ? false : 'Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)';

let dir = '';
let runDir = '';
let flipRun = '';
let photos: string[] = [];

interface JsonResult {
  file: string;
  ok: boolean;
  error?: string;
  top?: { class: number; name: string; prob: number }[];
  preprocess?: { mode: string; saved?: string[] };
}

const parse = (stdout: string) => JSON.parse(stdout) as JsonResult[];
const noDefault = (extra: Record<string, string> = {}) => ({ env: { [DEFAULT_MODEL_ENV]: '', FASHION_CNN_BACKEND: 'wasm', ...extra } });

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'predict-default-'));
  photos = [];
  for (const [i, size] of [[320, 240], [200, 300]].entries()) {
    const file = path.join(dir, `garment-${i}.png`);
    await fs.writeFile(file, await simplePhoto('png', size[0], size[1]));
    photos.push(file);
  }
  if (!HAVE_DATA) return;
  runDir = await copyTrainedRun(path.join(dir, 'run'));
  // The same run, recorded as trained for test-time flip.
  flipRun = path.join(dir, 'flip-run');
  await fs.cp(runDir, flipRun, { recursive: true });
  const configFile = path.join(flipRun, 'config.json');
  const config = JSON.parse(await fs.readFile(configFile, 'utf8'));
  config.hyper.tta = 'flip';
  await fs.writeFile(configFile, JSON.stringify(config));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('the default model is found from the package, not the working directory', async () => {
  assert.equal(packageRoot(), REPO_ROOT);
  const saved = process.env[DEFAULT_MODEL_ENV];
  try {
    delete process.env[DEFAULT_MODEL_ENV];
    assert.equal(defaultModelDir(), path.join(REPO_ROOT, 'models', 'default'));
    process.env[DEFAULT_MODEL_ENV] = '/somewhere/else';
    assert.equal(defaultModelDir(), '/somewhere/else');
    assert.equal(defaultModelDir('/explicit'), '/explicit', 'an explicit override wins over the environment');
  } finally {
    if (saved === undefined) delete process.env[DEFAULT_MODEL_ENV];
    else process.env[DEFAULT_MODEL_ENV] = saved;
  }
  await assert.rejects(requireDefaultModel(path.join(dir, 'nothing-here')), /^UserError: no default model shipped at \S+nothing-here; pass a run directory/);
  await assert.rejects(requireDefaultModel(dir), /the default model at \S+ cannot be used: .*holds no trained model.*; pass a run directory/);
});

test('the shipped default model: used when present, else a one-line error naming where it should be', async () => {
  const shipped = path.join(REPO_ROOT, 'models', 'default');
  // From another working directory: the package's models/default is still the one looked for.
  const r = await runCli(['predict', photos[0]], { ...noDefault(), cwd: dir });
  if (existsSync(shipped)) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /garment-0\.png: \S.*%/);
  } else {
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `fashion-cnn: no default model shipped at ${shipped}; pass a run directory (fashion-cnn predict --run RUN_DIR IMAGE...)\n`);
    assert.equal(r.stdout, '');
  }
});

test('predict IMAGE... uses the default model; RUN_DIR IMAGE... and --run RUN_DIR IMAGE... name a run; all agree', { skip }, async () => {
  const viaDefault = await runCli(['predict', ...photos, '--json', '--top', '10'], noDefault({ [DEFAULT_MODEL_ENV]: runDir }));
  const viaPositional = await runCli(['predict', runDir, ...photos, '--json', '--top', '10'], noDefault({ [DEFAULT_MODEL_ENV]: path.join(dir, 'nothing-here') }));
  const viaFlag = await runCli(['predict', '--run', runDir, ...photos, '--json', '--top', '10'], noDefault());
  for (const r of [viaDefault, viaPositional, viaFlag]) assert.equal(r.code, 0, r.stderr);
  const results = parse(viaDefault.stdout);
  assert.deepEqual(results.map((x) => x.file), photos, 'the images, and only them, in order');
  assert.ok(results.every((x) => x.ok && x.top!.length === 10));
  assert.deepEqual(parse(viaPositional.stdout), results);
  assert.deepEqual(parse(viaFlag.stdout), results);
  // The trained model is not uniform: its answer is an actual preference.
  assert.ok(results[0].top![0].prob > 0.15, `top probability ${results[0].top![0].prob}`);
});

test('a missing default model, a run directory without images, and --run with a directory image: one line each', { skip }, async () => {
  const cases: [string[], number, RegExp][] = [
    [['predict', photos[0]], 2, /^fashion-cnn: no default model shipped at \S+nothing-here; pass a run directory/],
    [['predict', runDir], 2, /^fashion-cnn: missing required argument 'images'/],
    [['predict', path.join(dir, 'no-such-run'), photos[0]], 2, /^fashion-cnn: run directory \S+no-such-run does not exist$/m],
    [['predict', '--run', runDir, dir, photos[0]], 1, /is a directory, not an image/],
    [['predict', runDir, photos[0], '--preprocess', 'fancy'], 2, /argument 'fancy' is invalid\. Allowed choices are mask, paper, hybrid/],
    [['predict', runDir, photos[0], '--tta', 'rotate'], 2, /argument 'rotate' is invalid\. Allowed choices are none, flip/],
  ];
  const runs = await Promise.all(cases.map(([args]) => runCli(args, noDefault({ [DEFAULT_MODEL_ENV]: path.join(dir, 'nothing-here') }))));
  for (const [k, [args, code, pattern]] of cases.entries()) {
    const r = runs[k];
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('whether the first argument names a run', async () => {
  assert.equal(await looksLikeRunDir(dir), true, 'a directory');
  assert.equal(await looksLikeRunDir(photos[0]), false, 'an image file');
  assert.equal(await looksLikeRunDir(path.join(dir, 'missing-run')), true, 'a missing path not named like an image');
  assert.equal(await looksLikeRunDir(path.join(dir, 'missing.JPG')), false, 'a missing image');
});

test('--preprocess paper: the JSON names the mode and --save-preprocessed writes exactly the frame the paper pipeline makes', { skip }, async () => {
  const out = path.join(dir, 'seen-paper');
  const r = await runCli(['predict', runDir, photos[0], '--preprocess', 'paper', '--json', '--save-preprocessed', out], noDefault());
  assert.equal(r.code, 0, r.stderr);
  const [result] = parse(r.stdout);
  assert.equal(result.preprocess!.mode, 'paper');
  const saved = await sharp(path.join(out, 'garment-0.png')).extractChannel(0).raw().toBuffer();
  const { pixels } = await preprocessImage(photos[0], { mode: 'paper' });
  assert.deepEqual(Array.from(saved), Array.from(pixels, (v) => Math.round(v * 255)));
  const asMask = await preprocessImage(photos[0], { mode: 'mask' });
  assert.notDeepEqual(Array.from(asMask.pixels), Array.from(pixels), 'the modes differ');
});

test('a run recorded with tta "flip" is asked about the frame and its mirror, averaged; --tta none overrides it', { skip }, async () => {
  await initBackend('wasm');
  const { model } = await loadRunModel(runDir);
  const { pixels } = await preprocessImage(photos[0]);
  const [plain] = predictFrames(model, [pixels], 'none');
  const [mirrored] = predictFrames(model, [mirrorFrame(pixels)], 'none');
  model.dispose();
  assert.notDeepEqual(plain.map((p) => p.toFixed(4)), mirrored.map((p) => p.toFixed(4)), 'the photo is not symmetric for the model');

  const flip = await classify([photos[0]], { runDir: flipRun, top: 10, backend: 'wasm' });
  assert.equal(flip.tta, 'flip');
  assert.ok(flip.results[0].ok);
  flip.results[0].probs.forEach((p, c) => assert.ok(Math.abs(p - (plain[c] + mirrored[c]) / 2) < 1e-5, `class ${c}`));

  const overridden = await classify([photos[0]], { runDir: flipRun, tta: 'none', backend: 'wasm' });
  assert.ok(overridden.results[0].ok);
  overridden.results[0].probs.forEach((p, c) => assert.ok(Math.abs(p - plain[c]) < 1e-5, `class ${c}`));
  const older = await classify([photos[0]], { runDir, backend: 'wasm' });
  assert.equal(older.tta, 'none', 'a config.json without hyper.tta is a run without test-time flip');

  const bad = path.join(dir, 'bad-tta');
  await fs.cp(flipRun, bad, { recursive: true });
  const config = JSON.parse(await fs.readFile(path.join(bad, 'config.json'), 'utf8'));
  config.hyper.tta = 'rotate';
  await fs.writeFile(path.join(bad, 'config.json'), JSON.stringify(config));
  const r = await runCli(['predict', bad, photos[0]], noDefault());
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^fashion-cnn: \S+bad-tta\/config\.json is damaged: "hyper\.tta" is not "none" or "flip"$/m);
});

test('library: classify() uses the default model unless told otherwise', { skip }, async () => {
  const viaDefault = await classify(photos, { defaultModel: runDir, backend: 'wasm' });
  const viaRun = await classify(photos, { runDir, backend: 'wasm' });
  assert.equal(viaDefault.isDefault, true);
  assert.equal(viaRun.isDefault, false);
  assert.equal(viaDefault.runDir, runDir);
  assert.deepEqual(viaDefault.results.map((r) => r.ok && r.top), viaRun.results.map((r) => r.ok && r.top));
  await assert.rejects(classify(photos, { defaultModel: path.join(dir, 'nothing-here'), backend: 'wasm' }), /no default model shipped at/);
  await assert.rejects(classify(photos, { runDir, top: 0 }), /--top must be at most 10 \(and at least 1\), got 0/);
});
