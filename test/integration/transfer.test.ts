/**
 * Transfer learning (the article's fourth model): VGG-19's architecture and Keras weights, the
 * caffe preprocessing, the missing-weights message, the feature cache, and a real pretrained
 * backbone (Tiny Darknet, read from ../shared when it is there).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/backend/index.js';
import { compareModels } from '../../src/compare/run.js';
import { loadFashionMnist } from '../../src/data/index.js';
import type { FashionMnist, ImageSet } from '../../src/data/types.js';
import { FASHION_SHAPE } from '../../src/data/types.js';
import { buildModel, countParams } from '../../src/models/build.js';
import { CAFFE_BGR_MEANS, ImageAdapter } from '../../src/models/custom-layers.js';
import { unavailableReason } from '../../src/models/describe.js';
import { saveModel } from '../../src/models/io.js';
import { applyModelOptions, darknetDir, findModelSpec } from '../../src/models/registry.js';
import type { TransferSpec } from '../../src/models/spec.js';
import { buildExtractor } from '../../src/models/transfer.js';
import { trainsOnFeatures } from '../../src/features/index.js';
import { buildVgg19Base } from '../../src/models/vgg19.js';
import { loadVgg19Weights } from '../../src/models/vgg19-weights.js';
import { readRunConfig, type TrainHyperParams } from '../../src/runs/index.js';
import { NO_AUGMENTATION } from '../../src/train/augment.js';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer.js';
import { trainRun } from '../../src/train/run.js';
import { UserError } from '../../src/util/errors.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';
import { writeKerasH5, type FileLayer } from '../helpers/keras-h5-writer.js';

const tmp = await fs.mkdtemp(path.join(tmpdir(), 'transfer-'));
const savedEnv = { cache: process.env.FASHION_CNN_CACHE, vgg: process.env.FASHION_CNN_VGG19_WEIGHTS };
before(async () => {
  await initBackend();
  process.env.FASHION_CNN_CACHE = path.join(tmp, 'cache');
  delete process.env.FASHION_CNN_VGG19_WEIGHTS;
});
after(async () => {
  for (const [k, v] of [['FASHION_CNN_CACHE', savedEnv.cache], ['FASHION_CNN_VGG19_WEIGHTS', savedEnv.vgg]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await fs.rm(tmp, { recursive: true, force: true });
});

const vgg19 = (o: Parameters<typeof applyModelOptions>[1] = {}) => applyModelOptions(findModelSpec('vgg19')!, o) as TransferSpec;

/** Keras's VGG19 layer names, in order (keras/applications/vgg19.py). */
const KERAS_VGG19_LAYERS = [
  'input_1',
  ...[2, 2, 4, 4, 4].flatMap((n, b) => [...Array.from({ length: n }, (_, i) => `block${b + 1}_conv${i + 1}`), `block${b + 1}_pool`]),
];

describe('vgg19: the architecture', () => {
  it('has Keras\'s layer names and 20,024,384 parameters at any input size; the head has 4,199,946 at 150x150', async () => {
    for (const size of [32, 48, 150]) {
      const base = buildVgg19Base(size);
      assert.deepEqual(base.layers.map((l) => l.name), KERAS_VGG19_LAYERS);
      assert.equal(countParams(base).total, 20_024_384, `at ${size}x${size}`);
      assert.deepEqual(base.outputs[0].shape, [null, Math.floor(size / 32), Math.floor(size / 32), 512]);
      base.dispose();
    }
    const at150 = await buildModel(vgg19({ inputSize: 150, weights: 'random' }));
    assert.deepEqual(countParams(at150), { total: 24_224_330, trainable: 4_199_946, nonTrainable: 20_024_384 });
    at150.dispose();
    const at48 = await buildModel(vgg19({ weights: 'random' }));
    assert.equal(countParams(at48).trainable, 512 * 512 + 512 + 512 * 10 + 10, 'the head on 1x1x512 features');
    at48.dispose();
  });

  it('refuses input sizes below 32 and options that are not its own', () => {
    assert.throws(() => buildVgg19Base(31), (e) => e instanceof UserError && /at least 32/.test(e.message));
    assert.throws(() => vgg19({ backbone: '/x' }), (e) => e instanceof UserError && /--backbone .* for TF\.js backbones/.test(e.message));
    assert.throws(() => applyModelOptions(findModelSpec('cnn1')!, { inputSize: 48 }), (e) => e instanceof UserError && /--input-size: for transfer models only/.test(e.message));
  });
});

describe('vgg19: fine-tuning block5', () => {
  it('trains block5 with the head and leaves the rest frozen; such a run does not use the feature cache', async () => {
    const spec = vgg19({ inputSize: 32, weights: 'random', fineTune: 'block5' });
    assert.equal(trainsOnFeatures(spec, { augEpochs: 0 }), false);
    assert.equal(trainsOnFeatures(vgg19(), { augEpochs: 0 }), true);
    const model = await withSeededMathRandom(new Rng('fine-tune'), () => buildModel(spec));
    assert.deepEqual(countParams(model), { total: 20_024_384 + 267_786, trainable: 4 * 2_359_808 + 267_786, nonTrainable: 20_024_384 - 4 * 2_359_808 });
    const backbone = model.getLayer('backbone') as tfl.LayersModel;
    const kernel = (name: string) => Float32Array.from(backbone.getLayer(name).getWeights()[0].dataSync());
    const before = { tuned: kernel('block5_conv1'), frozen: kernel('block4_conv4') };
    model.compile({ optimizer: tfc.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const x = tfc.randomUniform([4, ...FASHION_SHAPE], 0, 1, 'float32', 1);
    const y = tfc.cast(tfc.oneHot(tfc.tensor1d([0, 1, 2, 3], 'int32'), 10), 'float32');
    await model.trainOnBatch(x, y);
    assert.ok(kernel('block5_conv1').some((v, i) => v !== before.tuned[i]), 'block5 trained');
    assert.deepEqual(kernel('block4_conv4'), before.frozen, 'block4 did not move');
    model.dispose();
    await assert.rejects(buildModel(vgg19({ weights: 'random', fineTune: 'block9' })), (e) => e instanceof UserError && /--fine-tune block9 names no layer/.test(e.message));
  });
});

describe('caffe preprocessing', () => {
  it('turns [0,1] RGB into 0-255 BGR minus ImageNet\'s means, exactly, and repeats grey into the three channels', () => {
    const rgb = new ImageAdapter({ height: 1, width: 1, channels: 3, preprocess: 'caffe' });
    const out = rgb.apply(tfc.tensor4d([0.2, 0.4, 1.0], [1, 1, 1, 3])) as tfc.Tensor;
    const [b, g, r] = out.dataSync();
    assert.ok(Math.abs(b - (255 * 1.0 - CAFFE_BGR_MEANS[0])) < 1e-4, `B ${b}`);
    assert.ok(Math.abs(g - (255 * 0.4 - CAFFE_BGR_MEANS[1])) < 1e-4, `G ${g}`);
    assert.ok(Math.abs(r - (255 * 0.2 - CAFFE_BGR_MEANS[2])) < 1e-4, `R ${r}`);
    assert.deepEqual([...CAFFE_BGR_MEANS], [103.939, 116.779, 123.68]);

    const grey = new ImageAdapter({ height: 4, width: 4, channels: 3, preprocess: 'caffe' });
    const y = grey.apply(tfc.fill([1, 2, 2, 1], 0.5)) as tfc.Tensor;
    assert.deepEqual(y.shape, [1, 4, 4, 3]);
    const v = y.dataSync();
    for (let i = 0; i < 16; i++) for (let c = 0; c < 3; c++) assert.ok(Math.abs(v[i * 3 + c] - (127.5 - CAFFE_BGR_MEANS[c])) < 1e-3);
  });

  it('resizes bilinearly with half-pixel centres (TF2 tf.image.resize), not by nearest neighbour', () => {
    const unit = new ImageAdapter({ height: 4, width: 4, channels: 1 });
    const y = (unit.apply(tfc.tensor4d([0, 1, 0, 1], [1, 2, 2, 1])) as tfc.Tensor).dataSync();
    // Columns of a 0|1 image resized 2 -> 4: 0, 0.25, 0.75, 1 (nearest would give 0, 0, 1, 1).
    assert.deepEqual(Array.from(y.slice(0, 4), (x) => Math.round(x * 100) / 100), [0, 0.25, 0.75, 1]);
  });
});

/** Every weight of VGG-19 with a value that names it: layer index, weight index and position. */
function patternedVggFile(): FileLayer[] {
  const base = buildVgg19Base(32);
  const layers = base.layers.map((l, li) => ({
    name: l.name,
    weights: l.weights.map((w, wi) => {
      const n = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = li + wi / 10 + (i % 1000) / 1e6;
      return { name: `${l.name}/${wi === 0 ? 'kernel' : 'bias'}:0`, shape: w.shape as number[], values };
    }),
  }));
  base.dispose();
  return layers;
}

/** VGG-19's own (seeded glorot-uniform) weights as a Keras file: weights a network can run on (the patterned ones overflow to infinite features). */
async function plausibleVggFile(): Promise<FileLayer[]> {
  const base = await withSeededMathRandom(new Rng('vgg-file'), async () => buildVgg19Base(32));
  const layers = base.layers.map((l) => ({
    name: l.name,
    weights: l.weights.map((w, wi) => ({ name: `${l.name}/${wi === 0 ? 'kernel' : 'bias'}:0`, shape: w.shape as number[], values: Float32Array.from(w.read().dataSync() as Float32Array) })),
  }));
  base.dispose();
  return layers;
}

describe('vgg19: Keras weights', () => {
  let file = '';
  let runnable = '';
  before(async () => {
    file = await writeKerasH5(path.join(tmp, 'vgg19_notop.h5'), patternedVggFile());
    runnable = await writeKerasH5(path.join(tmp, 'vgg19_glorot.h5'), await plausibleVggFile());
  });

  it('loads a file in Keras\'s notop layout: every weight lands where Keras puts it', async () => {
    const model = buildVgg19Base(48);
    const lines: string[] = [];
    assert.equal(await loadVgg19Weights(model, file, (l) => lines.push(l)), file);
    model.layers.forEach((l, li) => {
      l.weights.forEach((w, wi) => {
        const v = w.read().dataSync();
        assert.equal(v[0], Math.fround(li + wi / 10), `${l.name} weight ${wi}`);
        assert.equal(v[v.length - 1], Math.fround(li + wi / 10 + ((v.length - 1) % 1000) / 1e6), `${l.name} weight ${wi}, last value`);
      });
    });
    assert.match(lines.join('\n'), /loaded 16 layers of ImageNet weights/);
    model.dispose();
  });

  it('says how to get the weights when they are not here, and compare goes on without vgg19', async () => {
    const reason = await unavailableReason(vgg19());
    assert.match(reason ?? '', /FASHION_CNN_VGG19_WEIGHTS/);
    assert.match(reason ?? '', /--weights PATH_OR_URL/);
    const out = path.join(tmp, 'compare');
    const lines: string[] = [];
    const { report, markdown } = await compareModels({ models: ['vgg19'], hyper: HYPER, augmentation: NO_AUGMENTATION, out, pictures: false, log: (l) => lines.push(l) });
    assert.deepEqual(report.rows, []);
    assert.equal(report.skipped?.[0].model, 'vgg19');
    assert.match(markdown, /^vgg19: not run \(vgg19 needs Keras's ImageNet weights/m);
    assert.equal(lines.filter((l) => /vgg19: skipped/.test(l)).length, 1);

    process.env.FASHION_CNN_VGG19_WEIGHTS = file;
    try {
      assert.equal(await unavailableReason(vgg19()), null, 'available once $FASHION_CNN_VGG19_WEIGHTS names the file');
    } finally {
      delete process.env.FASHION_CNN_VGG19_WEIGHTS;
    }
  });

  it('refuses to train on the infinite features of weights that overflow (the patterned file), caching nothing', { timeout: 300_000 }, async () => {
    await assert.rejects(
      trainRun({ model: 'vgg19', modelOptions: { weights: file, inputSize: 32 }, hyper: { ...HYPER, epochs: 1 }, augmentation: NO_AUGMENTATION, runDir: path.join(tmp, 'vgg-inf'), data: await small(), pictures: false, progress: false, log: () => {} }),
      (e) => e instanceof UserError && /^vgg19: the backbone gives NaN or infinite features \(\d+ values for the train images\); nothing was cached$/.test(e.message),
    );
  });

  it('trains its head end to end from such a file, and records the options', { timeout: 300_000 }, async () => {
    const runDir = path.join(tmp, 'vgg-run');
    const s = await trainRun({ model: 'vgg19', modelOptions: { weights: runnable, inputSize: 32 }, hyper: { ...HYPER, epochs: 1 }, augmentation: NO_AUGMENTATION, runDir, data: await small(), pictures: false, progress: false, log: () => {} });
    assert.equal(s.history.length, 1);
    assert.ok(Number.isFinite(s.eval.results[0].test_loss));
    const config = await readRunConfig(runDir);
    assert.deepEqual(config.modelOptions, { weights: runnable, inputSize: 32 });
    assert.deepEqual(config.params, { total: 20_024_384 + 267_786, trainable: 267_786, nonTrainable: 20_024_384 });
  });
});

const HYPER: TrainHyperParams = {
  epochs: 3, augEpochs: 0, batchSize: 64, lr: 0.001, seed: 4, valSplit: 0.2, limit: null, earlyStop: null,
  lrSchedule: { kind: 'constant' }, optimizer: DEFAULT_OPTIMIZER, labelSmoothing: 0, tta: 'none', ema: null, distill: null,
};

const firstOf = (set: ImageSet, n: number): ImageSet => ({ ...set, count: n, images: set.images.slice(0, n * set.rows * set.cols), labels: set.labels.slice(0, n) });
let smallData: FashionMnist | null = null;
/** The first 400 training and 100 test images: enough for a head to learn something, quick to extract. */
async function small(): Promise<FashionMnist> {
  if (!smallData) {
    const all = await loadFashionMnist();
    smallData = { ...all, train: firstOf(all.train, 400), test: firstOf(all.test, 100) };
  }
  return smallData;
}

describe('the feature cache', () => {
  const backbone = path.join(tmp, 'tiny-backbone');
  before(async () => {
    const input = tfl.input({ shape: [32, 32, 3] });
    let h = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, strides: 2, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    h = tfl.layers.conv2d({ name: 'c2', filters: 16, kernelSize: 3, activation: 'relu' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.dense({ name: 'top', units: 3 }).apply(tfl.layers.flatten().apply(h) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
    const model = await withSeededMathRandom(new Rng('tiny'), async () => tfl.model({ inputs: input, outputs: h }));
    await saveModel(model, backbone);
    model.dispose();
  });

  const run = async (name: string, seed = 4) => {
    const lines: string[] = [];
    const s = await trainRun({ model: 'transfer', modelOptions: { backbone, backboneLayer: 'c2' }, hyper: { ...HYPER, seed }, augmentation: NO_AUGMENTATION, runDir: path.join(tmp, name), data: await small(), pictures: false, progress: false, log: (l) => lines.push(l) });
    return { s, log: lines.join('\n') };
  };

  it('computes the features once; a second run says it reused them and trains the same head', { timeout: 300_000 }, async () => {
    const first = await run('cache-a');
    assert.match(first.log, /features: train \(320 images\) computed in .* img\/s\), cached in /);
    assert.match(first.log, /features: test \(100 images\) computed/);
    assert.doesNotMatch(first.log, /reused/);
    const second = await run('cache-b');
    for (const set of ['train (320 images)', 'val (80 images)', 'test (100 images)']) assert.match(second.log, new RegExp(`features: ${set.replace(/[()]/g, '\\$&')} reused from the cache`));
    const strip = (h: typeof first.s.history) => h.map(({ seconds: _s, ...rest }) => rest);
    assert.deepEqual(strip(second.s.history), strip(first.s.history));
    assert.equal(second.s.eval.results[0].test_acc, first.s.eval.results[0].test_acc);
    // Another seed splits train/validation differently: those are new images, the test set is not.
    const other = await run('cache-c', 5);
    assert.match(other.log, /features: train \(320 images\) computed/);
    assert.match(other.log, /features: test \(100 images\) reused/);
  });

  it('saves the whole model (backbone + trained head), which predicts from images as the head did from features', { timeout: 300_000 }, async () => {
    const { s } = await run('cache-whole');
    const { loadRunModel } = await import('../../src/runs/index.js');
    const { model } = await loadRunModel(s.runDir);
    const data = await small();
    const x = tfc.tensor4d(Float32Array.from(data.test.images.slice(0, 100 * 784), (v) => v / 255), [100, ...FASHION_SHAPE]);
    const predicted = Array.from(tfc.argMax(model.predict(x) as tfc.Tensor, -1).dataSync());
    const labels = data.test.labels.slice(0, 100);
    const acc = predicted.filter((p, i) => p === labels[i]).length / 100;
    assert.ok(Math.abs(acc - s.eval.results[0].test_acc!) < 1e-9, `whole model ${acc} vs head on features ${s.eval.results[0].test_acc}`);
    model.dispose();
  });

  it('refuses test-time flips, which need images', async () => {
    await assert.rejects(
      trainRun({ model: 'transfer', modelOptions: { backbone, backboneLayer: 'c2' }, hyper: { ...HYPER, tta: 'flip' }, augmentation: NO_AUGMENTATION, runDir: path.join(tmp, 'tta'), data: await small(), pictures: false, progress: false, log: () => {} }),
      (e) => e instanceof UserError && /--tta flip needs the images/.test(e.message),
    );
  });
});

const darknet = darknetDir();
describe('Tiny Darknet, a real ImageNet backbone', { skip: existsSync(path.join(darknet, 'model.json')) ? false : `Tiny Darknet not found at ${darknet} (set $FASHION_CNN_DARKNET)` }, () => {
  it('gives 512 average-pooled features per image at any input size; the random control differs from the pretrained weights', async () => {
    const spec = (weights: 'pretrained' | 'random') => applyModelOptions(findModelSpec('darknet-transfer')!, { inputSize: 64, weights }) as TransferSpec;
    const pretrained = await buildExtractor(spec('pretrained'));
    const random = await withSeededMathRandom(new Rng('control'), () => buildExtractor(spec('random')));
    assert.deepEqual(pretrained.featureShape, [1, 1, 512]);
    assert.deepEqual(random.featureShape, [1, 1, 512]);
    const data = await small();
    const x = tfc.tensor4d(Float32Array.from(data.test.images.slice(0, 8 * 784), (v) => v / 255), [8, ...FASHION_SHAPE]);
    const a = (pretrained.model.predict(x) as tfc.Tensor).dataSync();
    const b = (random.model.predict(x) as tfc.Tensor).dataSync();
    assert.ok(a.every(Number.isFinite) && b.every(Number.isFinite));
    assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3));
    assert.notEqual(pretrained.weightsId, random.weightsId);
    pretrained.model.dispose();
    random.model.dispose();
  });
});
