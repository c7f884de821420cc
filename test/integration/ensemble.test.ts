/**
 * Ensembles: `evaluate --ensemble`, `predict --ensemble` and `serve --ensemble` average their
 * members' probabilities (runs/ensemble.ts, models/ensemble.ts). Two tiny runs of different seeds
 * are the members; what each gives alone is computed here from the library and averaged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { loadFashionMnist, toExamples } from '../../src/data/index.js';
import { lossAndAccuracy } from '../../src/evaluate/metrics.js';
import { predictProbs, predictProbsWithProgress } from '../../src/evaluate/predict.js';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadEnsemble, loadRunModel } from '../../src/runs/index.js';
import { buildServer } from '../../src/serve/index.js';
import { REPO_ROOT, runCli, runMain } from '../helpers/cli.js';
import { simplePhoto } from '../helpers/predict-fixtures.js';
import { twoTinyRuns } from '../helpers/trained-run.js';

let dir: string;
let a: string;
let b: string;
let photo: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fashion-cnn-ensemble-'));
  [a, b] = await twoTinyRuns(path.join(dir, 'runs'));
  photo = path.join(dir, 'shirt.jpg');
  await fs.writeFile(photo, await simplePhoto('jpeg', 200, 240));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Each run's test probabilities, computed by the library as `evaluate` does. */
async function testProbs(runDir: string): Promise<Float32Array> {
  await initBackend();
  const { model, tta } = await loadRunModel(runDir);
  try {
    const data = await loadFashionMnist({});
    return predictProbs(model, toExamples(data.test), { tta });
  } finally {
    model.dispose();
  }
}

describe("a teacher's answers, batch by batch with progress", () => {
  it('are the same values as one pass of predictProbs, the last batch short', async () => {
    await initBackend();
    const { model, tta } = await loadRunModel(a);
    try {
      const test = toExamples((await loadFashionMnist({})).test);
      const images = { x: test.x.subarray(0, 1000 * 784), count: 1000, shape: test.shape };
      const whole = predictProbs(model, images, { tta, batchSize: 300 });
      const { PassThrough } = await import('node:stream');
      const quiet = new PassThrough() as unknown as NodeJS.WriteStream;
      const chunked = await predictProbsWithProgress(model, images, { tta, batchSize: 300, label: 'answers', stream: quiet });
      assert.equal(chunked.length, 10_000);
      assert.deepEqual(chunked, whole);
      await assert.rejects(predictProbsWithProgress(model, { ...images, count: 999 }, { tta, label: 'answers', stream: quiet }), /999 images/);
    } finally {
      model.dispose();
    }
  });
});

describe('evaluate --ensemble', () => {
  it("scores the mean of the members' probabilities, beside each member's own score", async () => {
    const r = await runCli(['evaluate', '--ensemble', `${a},${b}`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout) as { result: { test_acc: number; test_loss: number; per_class: unknown[]; count: number }; members: { runDir: string; test_acc: number; test_loss: number }[]; tta: string };
    const [pa, pb] = [await testProbs(a), await testProbs(b)];
    const data = await loadFashionMnist({});
    const labels = data.test.labels;
    const mean = pa.map((v, i) => (v + pb[i]) / 2);
    const expected = lossAndAccuracy(mean, labels);
    assert.equal(e.result.count, 10_000);
    assert.equal(e.result.test_acc, expected.acc);
    assert.ok(Math.abs(e.result.test_loss - expected.loss) < 1e-6, `${e.result.test_loss} vs ${expected.loss}`);
    assert.deepEqual(e.members.map((m) => m.runDir), [a, b]);
    assert.equal(e.members[0].test_acc, lossAndAccuracy(pa, labels).acc);
    assert.equal(e.members[1].test_acc, lossAndAccuracy(pb, labels).acc);
    assert.notEqual(e.members[0].test_acc, e.members[1].test_acc, 'two seeds make two different members');
    // Cross-entropy is convex: the mean's loss is at most the members' mean loss.
    assert.ok(e.result.test_loss <= (e.members[0].test_loss + e.members[1].test_loss) / 2 + 1e-9);
    assert.equal(e.result.per_class.length, 10);
  });

  it('takes a folder of runs (a sweep\'s) as its finished runs, and says which it left out', async () => {
    const unfinished = path.join(dir, 'runs', 'c');
    await fs.mkdir(unfinished);
    await fs.copyFile(path.join(a, 'config.json'), path.join(unfinished, 'config.json'));
    const r = await runCli(['evaluate', '--ensemble', path.join(dir, 'runs')]);
    await fs.rm(unfinished, { recursive: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /left out 1 unfinished run \(c\)/);
    assert.match(r.stdout, /^ensemble .*\(2 members, test-time augmentation: none\)$/m);
    assert.match(r.stdout, /test accuracy [\d.]+%\s+\(10000 images, the ensemble\)/);
  });

  it('refuses a run named twice, a single run, a run and --ensemble together, and members asked differently', async () => {
    const cases: [string[], RegExp][] = [
      [['evaluate', '--ensemble', `${a},${a}`], /is named twice/],
      [['evaluate', '--ensemble', a], /at least two runs/],
      [['evaluate', a, '--ensemble', `${a},${b}`], /a run directory or --ensemble, not both/],
      [['evaluate', '--ensemble', `${a},${path.join(REPO_ROOT, 'models', 'default')}`], /differ in test-time augmentation/],
      [['evaluate', '--ensemble', `${a},${path.join(dir, 'nothing')}`], /nothing/],
      [['evaluate'], /missing required argument 'run-dir'/],
    ];
    for (const [args, re] of cases) {
      const r = await runMain(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
  });
});

describe('ensembles of functional models', () => {
  it('save and load back as one model (best, the shipped default, twice)', async () => {
    await initBackend();
    const dflt = path.join(REPO_ROOT, 'models', 'default');
    const { model } = await loadEnsemble([dflt, dflt]);
    let saved: tf.io.ModelArtifacts | null = null;
    await model.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const back = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 3);
    const diff = tf.max(tf.abs(tf.sub(back.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor))).dataSync()[0];
    assert.ok(diff < 1e-6, `max difference ${diff}`);
    back.dispose();
    model.dispose();
  });
});

describe('predict and serve --ensemble', () => {
  const probsOf = (json: string) => {
    const [p] = JSON.parse(json) as { top: { class: number; prob: number }[] }[];
    return Object.fromEntries(p.top.map((t) => [t.class, t.prob]));
  };

  it("predict averages the members' answers for a photo", async () => {
    const one = async (args: string[]) => {
      const r = await runCli(['predict', ...args, '--top', '10', '--json', photo]);
      assert.equal(r.code, 0, r.stderr);
      return probsOf(r.stdout);
    };
    const [pa, pb, both] = [await one(['--run', a]), await one(['--run', b]), await one(['--ensemble', `${a},${b}`])];
    for (let c = 0; c < 10; c++) assert.ok(Math.abs(both[c] - (pa[c] + pb[c]) / 2) < 1e-5, `class ${c}: ${both[c]} vs ${pa[c]}, ${pb[c]}`);
    const clash = await runCli(['predict', '--run', a, '--ensemble', `${a},${b}`, photo]);
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /not both/);
  });

  it('serve answers /api/predict with the ensemble, saliency map included, and names it', async () => {
    const server = await buildServer({ runsDir: path.join(dir, 'runs'), port: 0, defaultEnsemble: [a, b] });
    try {
      const upload = await fs.readFile(photo);
      const res = await server.app.inject({ method: 'POST', url: '/api/predict?top=10', payload: upload, headers: { 'content-type': 'image/jpeg' } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { model: string; top: { class: number; prob: number }[]; saliency?: string };
      assert.equal(body.model, 'ensemble');
      assert.ok(body.saliency?.startsWith('data:image/png;base64,'));
      const cli = await runCli(['predict', '--ensemble', `${a},${b}`, '--top', '10', '--json', photo]);
      const expected = probsOf(cli.stdout);
      for (const t of body.top) assert.ok(Math.abs(t.prob - expected[t.class]) < 1e-5, `class ${t.class}`);
      // The files the dashboard loads into TF.js load back (each member's weights named apart) and answer as the ensemble.
      const file = await server.app.inject({ method: 'GET', url: '/api/model/model.json' });
      assert.equal(file.statusCode, 200);
      const json = file.json() as { modelTopology: { config: { name: string } }; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
      assert.equal(json.modelTopology.config.name, 'ensemble');
      const weights = await server.app.inject({ method: 'GET', url: '/api/model/weights.bin' });
      const bytes = weights.rawPayload;
      const back = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }));
      const { model: direct } = await loadEnsemble([a, b]);
      const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 5);
      const diff = tf.max(tf.abs(tf.sub(back.predict(x) as tf.Tensor, direct.predict(x) as tf.Tensor))).dataSync()[0];
      assert.ok(diff < 1e-6, `the reloaded ensemble answers as the ensemble (max difference ${diff})`);
      back.dispose();
      direct.dispose();
    } finally {
      await server.shutdown();
    }
  });

  it('serve refuses a mistyped member before it starts', async () => {
    const r = await runCli(['serve', '--port', '0', '--ensemble', `${a},${path.join(dir, 'nope')}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /nope/);
  });
});
