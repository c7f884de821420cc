/**
 * The 'transfer' kind, with a tiny backbone the test builds and saves (no real backbone ships
 * with the repository): the model takes 28x28x1 images, adapts them inside the graph, keeps the
 * backbone frozen and in inference mode through training and through a save/load round trip.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FASHION_SHAPE, type Examples } from '../../src/data/types.js';
import { predictProbs } from '../../src/evaluate/predict.js';
import { activationsPng, convActivations } from '../../src/explain/activations.js';
import { defaultFeatureLayer, learnedFeatures } from '../../src/explain/embed/features.js';
import { predictFrames } from '../../src/predict/classify.js';
import { buildModel, countParams } from '../../src/models/build.js';
import { FrozenBackbone, ImageAdapter } from '../../src/models/custom-layers.js';
import { describeModel } from '../../src/models/describe.js';
import { loadModel, saveModel } from '../../src/models/io.js';
import type { LayerSpec, TfjsBackbone, TransferSpec } from '../../src/models/spec.js';
import { BACKBONE_LAYER, minimumInputSize } from '../../src/models/transfer.js';
import { buildVgg19Base, VGG19_MIN_INPUT } from '../../src/models/vgg19.js';
import { modelsText } from '../../src/cli/commands/models.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';
import { rejectsWith } from '../helpers/assert-user-error.js';

const tmp = await mkdtemp(path.join(tmpdir(), 'models-transfer-'));
const backboneDir = path.join(tmp, 'backbone');
/** The weights of the saved backbone, by name. */
const saved = new Map<string, Float32Array>();

/** conv (relu) -> batch norm (with non-trivial statistics) -> conv, and a classifier top that the transfer model cuts off. */
async function saveTinyBackbone(): Promise<void> {
  const input = tfl.input({ shape: [32, 32, 3] });
  let h = tfl.layers.conv2d({ name: 'bb_conv1', filters: 4, kernelSize: 3, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
  const bn = tfl.layers.batchNormalization({ name: 'bb_bn' });
  h = bn.apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ name: 'bb_conv2', filters: 8, kernelSize: 3, activation: 'relu' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({ name: 'bb_gap' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.dense({ name: 'bb_top', units: 5, activation: 'softmax' }).apply(h) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: h, name: 'tiny' });
  const rng = new Rng('bn-stats');
  bn.setWeights(bn.getWeights().map((w, i) => tfc.tensor(Float32Array.from({ length: w.size }, () => (i === 3 ? 0.5 + rng.next() : rng.uniform(-0.5, 0.5))), w.shape)));
  await saveModel(model, backboneDir);
  for (const w of model.weights) saved.set(w.originalName, Float32Array.from(w.read().dataSync() as Float32Array));
  model.dispose();
}

function spec(head: LayerSpec[] = [{ type: 'globalAvgPool' }, { type: 'dense', units: 16 }, { type: 'dense', units: 10, activation: 'softmax' }], backbone: Partial<TfjsBackbone> = {}): TransferSpec {
  return { kind: 'transfer', name: 'tiny-transfer', title: 'test', input: FASHION_SHAPE, backbone: { source: 'tfjs', path: backboneDir, layer: 'bb_conv2', ...backbone }, head };
}

function examples(n: number, seed: string): Examples {
  const rng = new Rng(seed);
  return { x: new Float32Array(n * 784).map(() => rng.next()), shape: FASHION_SHAPE, y: Uint8Array.from({ length: n }, (_, i) => i % 10), count: n, indices: Uint32Array.from({ length: n }, (_, i) => i) };
}

const isBackbone = (name: string) => saved.has(name);

before(async () => {
  await tfc.setBackend('cpu');
  await saveTinyBackbone();
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('transfer models', () => {
  it('build: adapter, frozen backbone cut at the feature layer, head; [n, 10] probabilities for 28x28x1 images', async () => {
    const model = await buildModel(spec());
    try {
      assert.deepEqual(model.layers.map((l) => l.getClassName()), ['InputLayer', 'ImageAdapter', 'FrozenBackbone', 'GlobalAveragePooling2D', 'Dense', 'Dense']);
      assert.deepEqual(model.inputs[0].shape, [null, 28, 28, 1]);
      const backbone = model.getLayer('backbone') as tfl.LayersModel;
      assert.equal(backbone.layers[0].getClassName(), 'InputLayer');
      assert.deepEqual(backbone.layers.slice(1).map((l) => l.name), ['bb_conv1', 'bb_bn', 'bb_conv2']);
      const probs = predictProbs(model, examples(3, 'predict'));
      assert.equal(probs.length, 30);
      for (let i = 0; i < 3; i++) assert.ok(Math.abs(probs.subarray(i * 10, i * 10 + 10).reduce((s, p) => s + p, 0) - 1) < 1e-5);
      // Trainable: the head only; frozen: the backbone up to the cut (bb_top is not part of it).
      const counts = countParams(model);
      assert.equal(counts.trainable, 8 * 16 + 16 + 16 * 10 + 10);
      assert.equal(counts.nonTrainable, 3 * 3 * 3 * 4 + 4 + 4 * 4 + 3 * 3 * 4 * 8 + 8);
      assert.equal(counts.total, 738);
      // Frames from photo preprocessing go through the same way.
      const frames = predictFrames(model, [examples(1, 'frame').x]);
      assert.equal(frames[0].length, 10);
    } finally {
      model.dispose();
    }
  });

  it('the backbone weights are non-trainable and equal to the saved ones', async () => {
    const model = await buildModel(spec());
    try {
      assert.ok(model.trainableWeights.every((w) => !isBackbone(w.originalName)), 'no backbone weight is trainable');
      const frozen = model.nonTrainableWeights.map((w) => w.originalName).sort();
      assert.deepEqual(frozen, [...saved.keys()].filter((n) => !n.startsWith('bb_top')).sort());
      for (const w of model.nonTrainableWeights) assert.deepEqual(w.read().dataSync(), saved.get(w.originalName), w.originalName);
    } finally {
      model.dispose();
    }
  });

  it('the adapter resizes bilinearly to the backbone\'s 32x32 and repeats grey into its 3 channels', async () => {
    const model = await buildModel(spec());
    try {
      const ex = examples(1, 'adapter');
      const adapted = tfc.tidy(() => {
        const probe = tfl.model({ inputs: model.inputs, outputs: model.getLayer('adapter').output as tfl.SymbolicTensor });
        return probe.predict(tfc.tensor4d(ex.x, [1, 28, 28, 1])) as tfc.Tensor;
      });
      const expected = tfc.tidy(() => tfc.tile(tfc.image.resizeBilinear(tfc.tensor4d(ex.x, [1, 28, 28, 1]), [32, 32], false, true), [1, 1, 1, 3]));
      assert.deepEqual(adapted.shape, [1, 32, 32, 3]);
      assert.deepEqual(adapted.dataSync(), expected.dataSync());
      tfc.dispose([adapted, expected]);
    } finally {
      model.dispose();
    }
  });

  it('one training step changes only the head; the backbone (batch-norm statistics included) stays as saved', async () => {
    const model = await withSeededMathRandom(new Rng('transfer-train'), () => buildModel(spec()));
    model.compile({ optimizer: tfc.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const ex = examples(4, 'train');
    const x = tfc.tensor4d(ex.x, [4, 28, 28, 1]);
    const y = tfc.oneHot(tfc.tensor1d(Array.from(ex.y), 'int32'), 10);
    try {
      const before = model.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
      const loss = (await model.trainOnBatch(x, y)) as number;
      assert.ok(Number.isFinite(loss));
      model.weights.forEach((w, i) => {
        const changed = before[i].some((v, j) => v !== w.read().dataSync()[j]);
        assert.equal(changed, !isBackbone(w.originalName), `${w.originalName} ${changed ? 'changed' : 'did not change'}`);
      });
    } finally {
      tfc.dispose([x, y]);
      model.dispose();
    }
  });

  it('saves and loads: identical predictions, still frozen, same layer classes', async () => {
    const model = await buildModel(spec());
    const dir = path.join(tmp, 'saved-transfer');
    try {
      await saveModel(model, dir);
      const loaded = await loadModel(dir);
      const ex = examples(3, 'roundtrip');
      assert.deepEqual(predictProbs(loaded, ex), predictProbs(model, ex));
      assert.deepEqual(loaded.layers.map((l) => l.getClassName()), model.layers.map((l) => l.getClassName()));
      assert.ok(loaded.getLayer('adapter') instanceof ImageAdapter);
      assert.ok(loaded.getLayer('backbone') instanceof FrozenBackbone);
      assert.deepEqual(countParams(loaded), countParams(model));
      assert.deepEqual(loaded.trainableWeights.map((w) => w.originalName), model.trainableWeights.map((w) => w.originalName));
      loaded.dispose();
    } finally {
      model.dispose();
    }
  });

  it('activation maps reach the conv layers inside the backbone, computed on the adapted image', async () => {
    const model = await buildModel(spec());
    try {
      const ex = examples(1, 'maps');
      const tensors = tfc.memory().numTensors;
      const maps = await convActivations(model, ex.x, FASHION_SHAPE);
      assert.equal(tfc.memory().numTensors, tensors, 'no tensor leak');
      assert.deepEqual(maps.map((m) => [m.name, m.shape]), [['backbone/bb_conv1', [30, 30, 4]], ['backbone/bb_conv2', [28, 28, 8]]]);
      const backbone = model.getLayer('backbone') as tfl.LayersModel;
      const expected = tfc.tidy(() => {
        const adapted = tfc.tile(tfc.image.resizeBilinear(tfc.tensor4d(ex.x, [1, 28, 28, 1]), [32, 32], false, true), [1, 1, 1, 3]);
        return backbone.predict(adapted) as tfc.Tensor;
      });
      assert.deepEqual(Array.from(maps[1].data), Array.from(expected.dataSync()));
      expected.dispose();
      const { layout } = await activationsPng(model, ex.x, FASHION_SHAPE);
      assert.deepEqual(layout.blocks.map((b) => b.name), ['backbone/bb_conv1', 'backbone/bb_conv2']);
    } finally {
      model.dispose();
    }
  });

  it('learned features default to what the classifier takes: the Dense before it, or the pooled backbone features', async () => {
    const withHidden = await buildModel(spec());
    const direct = await buildModel(spec([{ type: 'globalAvgPool' }, { type: 'dense', units: 10, activation: 'softmax' }]));
    try {
      assert.equal(defaultFeatureLayer(withHidden), 'head_2_dense');
      assert.equal(defaultFeatureLayer(direct), 'head_1_globalAvgPool');
      const f = learnedFeatures(withHidden, examples(3, 'features'), [0, 1, 2], 'head_2_dense');
      assert.deepEqual([f.rows, f.cols], [3, 16]);
      // A nested model can be the feature layer too: its output in the outer graph is used.
      const b = learnedFeatures(direct, examples(2, 'features'), [0, 1], 'backbone');
      assert.deepEqual([b.rows, b.cols], [2, 28 * 28 * 8]);
    } finally {
      withHidden.dispose();
      direct.dispose();
    }
  });

  it('the models listing shows the backbone\'s layers indented and frozen; a missing backbone is one line', async () => {
    const d = await describeModel(spec());
    assert.ok(d.available);
    assert.deepEqual(
      d.layers.map((l) => [l.depth, l.type]),
      [[0, 'InputLayer'], [0, 'ImageAdapter'], [0, 'FrozenBackbone'], [1, 'InputLayer'], [1, 'Conv2D'], [1, 'BatchNormalization'], [1, 'Conv2D'], [0, 'GlobalAveragePooling2D'], [0, 'Dense'], [0, 'Dense']],
    );
    assert.ok(d.layers.filter((l) => l.depth === 1).every((l) => l.trainableParams === 0));
    const missing = await describeModel(spec(undefined, { path: path.join(tmp, 'nowhere') }));
    assert.equal(missing.available, false);
    const lines = modelsText([d, missing]);
    assert.match(lines[0], /^tiny-transfer — test \[transfer\]: 738 parameters \(314 trainable, 424 non-trainable\)$/);
    assert.match(lines.find((l) => l.includes('bb_conv1')) ?? '', /^ {4}bb_conv1 +Conv2D .* frozen {2}<- /);
    assert.equal(lines[lines.length - 1], `tiny-transfer — test [transfer]: not available (backbone not found: ${path.join(tmp, 'nowhere', 'model.json')} does not exist)`);
  });

  it('refuses a missing backbone and an unknown feature layer with one clear line', async () => {
    await rejectsWith(buildModel(spec(undefined, { path: path.join(tmp, 'nowhere') })), /^backbone: no model found: .*nowhere.*model\.json does not exist$/);
    await rejectsWith(buildModel(spec(undefined, { layer: 'bb_nope' })), /no layer "bb_nope" \(layers: .*bb_conv1, bb_bn, bb_conv2, bb_gap, bb_top\)$/);
  });

  it('refuses an --input-size below what the backbone\'s downsampling needs (as vgg19 refuses one below 32)', async () => {
    // Two valid 3x3 convolutions up to bb_conv2: one pixel of features needs 5 of image.
    await rejectsWith(buildModel(spec(undefined, { inputSize: 1 })), /^backbone \S+: --input-size 1 is too small: its downsampling up to layer "bb_conv2" needs images of at least 5 pixels$/);
    await rejectsWith(buildModel(spec(undefined, { inputSize: 4 })), /needs images of at least 5 pixels$/);
    const model = await buildModel(spec(undefined, { inputSize: 5 }));
    assert.deepEqual(model.getLayer(BACKBONE_LAYER).outputShape, [null, 1, 1, 8]);
    model.dispose();
    // The same rule gives VGG-19's Keras minimum, and halves it for each pooling left out.
    const vgg = buildVgg19Base(32);
    assert.equal(minimumInputSize(vgg.outputs[0]), VGG19_MIN_INPUT);
    assert.equal(minimumInputSize(vgg.getLayer('block4_pool').output as tfl.SymbolicTensor), VGG19_MIN_INPUT / 2);
    vgg.dispose();
  });

  it('runs a fully convolutional backbone at another input size than it was saved with', async () => {
    const model = await buildModel(spec(undefined, { inputSize: 64 }));
    assert.deepEqual(model.getLayer('adapter').outputShape, [null, 64, 64, 3]);
    assert.deepEqual(model.getLayer(BACKBONE_LAYER).outputShape, [null, 60, 60, 8]);
    model.dispose();
  });
});
