/**
 * `fashion-cnn predict` as a user runs it, on a tiny untrained model saved in a temporary run
 * directory: good photos are classified, each bad file gets its own one-line error, the exit code
 * says some failed, and --json / --top / --save-preprocessed keep their contract.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/backend/index.js';
import { CLASS_NAMES } from '../../src/data/types.js';
import { saveModel } from '../../src/models/io.js';
import { classifyImages, mirrorFrame, predictFrames } from '../../src/predict/index.js';
import { runCli } from '../helpers/cli.js';
import { simplePhoto, writeBadFiles } from '../helpers/predict-fixtures.js';

let dir = '';
let runDir = '';
let good: string[] = [];
let bad: string[] = [];
let model: tfl.LayersModel;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'predict-cli-'));
  runDir = path.join(dir, 'run');
  await initBackend('wasm');
  model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  await saveModel(model, path.join(runDir, 'model'));
  good = [];
  for (const format of ['jpeg', 'png', 'webp', 'gif'] as const) {
    const file = path.join(dir, `garment-${format}.${format === 'jpeg' ? 'jpg' : format}`);
    await fs.writeFile(file, await simplePhoto(format));
    good.push(file);
  }
  bad = await writeBadFiles(dir);
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

interface JsonResult {
  file: string;
  ok: boolean;
  error?: string;
  top?: { class: number; name: string; prob: number }[];
}

test('classifies the good files, gives each bad one its own error, and exits 1', async () => {
  const files = [good[0], ...bad, good[1], good[2], good[3]];
  const r = await runCli(['predict', runDir, ...files, '--json', '--top', '10']);
  assert.equal(r.code, 1, r.stderr);
  const results = JSON.parse(r.stdout) as JsonResult[];
  assert.deepEqual(results.map((x) => x.file), files, 'one result per file, in argument order');
  for (const x of results) {
    const isGood = good.includes(x.file);
    assert.equal(x.ok, isGood, `${x.file}: ok`);
    if (!isGood) {
      assert.ok(x.error && !x.error.includes('\n'), `${x.file}: one-line error`);
      assert.equal(x.top, undefined);
      continue;
    }
    assert.equal(x.top!.length, 10);
    const probs = x.top!.map((c) => c.prob);
    assert.deepEqual([...probs].sort((a, b) => b - a), probs, 'best first');
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'probabilities sum to 1');
    assert.deepEqual(new Set(x.top!.map((c) => c.class)).size, 10);
    for (const c of x.top!) assert.equal(c.name, CLASS_NAMES[c.class]);
  }
  const errors = Object.fromEntries(results.filter((x) => !x.ok).map((x) => [path.basename(x.file), x.error]));
  assert.match(errors['empty.jpg']!, /empty/);
  assert.match(errors['text.jpg']!, /not an image/);
  assert.match(errors['truncated.jpg']!, /truncated/);
  assert.match(errors['corrupt.jpg']!, /corrupt/);
  assert.match(errors['huge.png']!, /too large/);
  assert.match(errors['folder.jpg']!, /directory/);
  assert.match(errors['missing.jpg']!, /no such file/);
});

test('text output: top 3 per good file on stdout, one line per bad file on stderr', async () => {
  const r = await runCli(['predict', runDir, good[0], bad[0], good[1]]);
  assert.equal(r.code, 1);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  for (const [i, line] of lines.entries()) {
    assert.ok(line.startsWith(`${[good[0], good[1]][i]}: `), line);
    assert.equal(line.match(/\d+\.\d%/g)?.length, 3, `three classes: ${line}`);
  }
  assert.match(r.stderr, new RegExp(`${bad[0].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: error: empty file`));
  assert.match(r.stderr, /1 of 3 images could not be classified/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('all good: exit 0; --save-preprocessed writes the 28x28 frames and enlargements', async () => {
  const out = path.join(dir, 'seen');
  const r = await runCli(['predict', runDir, ...good, '--top', '2', '--json', '--save-preprocessed', out]);
  assert.equal(r.code, 0, r.stderr);
  const results = JSON.parse(r.stdout) as JsonResult[];
  assert.ok(results.every((x) => x.ok && x.top!.length === 2));
  const written = (await fs.readdir(out)).sort();
  assert.equal(written.length, good.length * 2);
  for (const file of good) {
    const stem = path.basename(file).replace(/\.[^.]+$/, '');
    const small = await sharp(path.join(out, `${stem}.png`)).metadata();
    const large = await sharp(path.join(out, `${stem}.x8.png`)).metadata();
    assert.deepEqual([small.width, small.height, large.width, large.height], [28, 28, 224, 224]);
    // The dark garment on the light page became a light object on black.
    const stats = await sharp(path.join(out, `${stem}.png`)).stats();
    assert.ok(stats.channels[0].max > 200 && stats.channels[0].min === 0, `${stem}: light object on black`);
  }
});

test('bad run directory or flags: one line, non-zero exit, no stack', async () => {
  const cases: [string[], RegExp][] = [
    [['predict', path.join(dir, 'nope'), good[0]], /run directory .* does not exist/],
    [['predict', dir, good[0]], /holds no trained model/],
    [['predict', runDir, good[0], '--top', '11'], /at most 10/],
    [['predict', runDir], /missing required argument/],
  ];
  // Started together: each is a separate process that mostly waits on start-up.
  const runs = await Promise.all(cases.map(([args]) => runCli(args)));
  for (const [k, [args, pattern]] of cases.entries()) {
    const r = runs[k];
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, pattern, args.join(' '));
    assert.equal(r.stdout, '');
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('library: uploads (bytes) are classified like files; a bad upload fails alone', async () => {
  const bytes = await fs.readFile(good[0]);
  const results = await classifyImages(model, [bytes, { name: 'upload.png', data: await fs.readFile(good[1]) }, { name: 'junk.jpg', data: Buffer.from('junk') }, good[0]], { top: 2 });
  assert.deepEqual(results.map((r) => r.file), ['image 1', 'upload.png', 'junk.jpg', good[0]]);
  assert.deepEqual(results.map((r) => r.ok), [true, true, false, true]);
  const [fromBytes, , junk, fromFile] = results;
  assert.ok(fromBytes.ok && fromFile.ok && !junk.ok);
  assert.deepEqual(fromBytes.top, fromFile.top, 'same bytes, same answer');
  assert.equal(fromBytes.top.length, 2);
  assert.ok(Math.abs(fromBytes.probs.reduce((a, b) => a + b, 0) - 1) < 1e-4);
  assert.match(junk.error, /not an image/);
  // Test-time mirroring: 'average' is the mean of the plain and mirrored frames' answers, 'max' the more confident of them.
  const frame = fromBytes.pixels;
  assert.deepEqual(Array.from(mirrorFrame(mirrorFrame(frame))), Array.from(frame));
  assert.equal(mirrorFrame(frame)[0], frame[27]);
  const [plain] = predictFrames(model, [frame], 'none');
  const [flipped] = predictFrames(model, [mirrorFrame(frame)], 'none');
  const [average] = predictFrames(model, [frame], 'average');
  const [max] = predictFrames(model, [frame], 'max');
  average.forEach((p, c) => assert.ok(Math.abs(p - (plain[c] + flipped[c]) / 2) < 1e-5));
  assert.deepEqual(max, Math.max(...flipped) > Math.max(...plain) ? flipped : plain);
  fromBytes.probs.forEach((p, c) => assert.ok(Math.abs(p - plain[c]) < 1e-5, "'none' is the default (orientation is handled by the preprocessing)"));
});
