/**
 * The 'graph' kind: the functional builder, and the residual demo (resnet-mini) through
 * building, training, prediction, activation maps, learned features and a save/load round trip.
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
import { convActivations } from '../../src/explain/activations.js';
import { defaultFeatureLayer, learnedFeatures } from '../../src/explain/embed/features.js';
import { buildGraph, buildModel, countParams, requireModelSpec } from '../../src/models/build.js';
import { describeModel } from '../../src/models/describe.js';
import { loadModel, saveModel } from '../../src/models/io.js';
import type { GraphSpec } from '../../src/models/spec.js';
import { UserError } from '../../src/util/errors.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';
import { startNative } from '../helpers/native.js';

const tmp = await mkdtemp(path.join(tmpdir(), 'models-graph-'));

before(async () => {
  await tfc.setBackend('cpu');
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function examples(n: number, seed: string, shape = FASHION_SHAPE): Examples {
  const rng = new Rng(seed);
  const x = new Float32Array(n * shape[0] * shape[1] * shape[2]).map(() => rng.next());
  return { x, shape, y: Uint8Array.from({ length: n }, (_, i) => i % 10), count: n, indices: Uint32Array.from({ length: n }, (_, i) => i) };
}

function batch(ex: Examples): { x: tfc.Tensor4D; y: tfc.Tensor2D } {
  return tfc.tidy(() => ({
    x: tfc.tensor4d(ex.x, [ex.count, ...ex.shape]),
    y: tfc.cast(tfc.oneHot(tfc.tensor1d(Array.from(ex.y), 'int32'), 10), 'float32') as tfc.Tensor2D,
  }));
}

const resnetSpec = () => requireModelSpec('resnet-mini') as GraphSpec;
const snapshot = (m: tfl.LayersModel) => m.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));

describe('the graph builder', () => {
  it('passes every option to its layer and wires branches (concatenate, add)', async () => {
    const spec: GraphSpec = {
      kind: 'graph',
      name: 'branches',
      title: 'test',
      input: [12, 12, 2],
      graph: (x, g) => {
        const a = g.conv2d(x, { name: 'a', filters: 4, kernel: [3, 1], strides: 2, padding: 'same', useBias: false, activation: 'relu' });
        const b = g.conv2d(x, { name: 'b', filters: 3, kernel: 1, strides: [2, 2] });
        const joined = g.concatenate([a, b], { name: 'joined' });
        const c = g.batchNorm(g.conv2d(joined, { name: 'c', filters: 7, padding: 'same' }), { name: 'bn', momentum: 0.9 });
        const sum = g.add([c, joined], { name: 'sum' });
        const pooled = g.maxPool(g.activation(sum, 'elu', { name: 'elu' }), { name: 'pool', size: 3, strides: 1 });
        const flat = g.dropout(g.flatten(pooled, { name: 'flat' }), 0.5, { name: 'drop' });
        return g.dense(flat, { name: 'out', units: 10, activation: 'softmax' });
      },
    };
    const model = await buildModel(spec);
    try {
      const cfg = (name: string) => model.getLayer(name).getConfig();
      assert.deepEqual(
        [cfg('a').kernelSize, cfg('a').strides, cfg('a').padding, cfg('a').useBias, cfg('a').activation, cfg('a').filters],
        [[3, 1], [2, 2], 'same', false, 'relu', 4],
      );
      assert.deepEqual([cfg('b').kernelSize, cfg('b').padding, cfg('b').useBias, cfg('b').activation], [[1, 1], 'valid', true, 'linear']);
      // glorot-uniform, as Keras (TF.js's own default is glorot-normal)
      assert.deepEqual((cfg('a').kernelInitializer as { config: object }).config, { scale: 1, mode: 'fanAvg', distribution: 'uniform', seed: null });
      assert.equal(cfg('bn').momentum, 0.9);
      assert.deepEqual([cfg('pool').poolSize, cfg('pool').strides], [[3, 3], [1, 1]]);
      assert.equal(cfg('drop').rate, 0.5);
      assert.equal(cfg('out').activation, 'softmax');
      assert.deepEqual(model.getLayer('joined').outputShape, [null, 6, 6, 7]);
      assert.deepEqual(model.getLayer('pool').outputShape, [null, 4, 4, 7]);
      const probs = predictProbs(model, examples(3, 'branches', spec.input));
      assert.equal(probs.length, 30);
      assert.equal(defaultFeatureLayer(model), 'drop');
    } finally {
      model.dispose();
    }
  });
});

describe('resnet-mini (the residual demo)', () => {
  it('is a graph of a conv stem, two residual blocks joined by Add, global average pooling and a softmax', async () => {
    const model = await buildModel(resnetSpec());
    try {
      assert.ok(!(model instanceof tfl.Sequential));
      const kinds = model.layers.map((l) => l.getClassName());
      assert.equal(kinds.filter((k) => k === 'Add').length, 2);
      assert.equal(kinds[kinds.length - 2], 'GlobalAveragePooling2D');
      assert.equal(model.getLayer('classifier').getConfig().activation, 'softmax');
      // Every conv feeds a batch norm, so none has a bias.
      for (const l of model.layers.filter((x) => x.getClassName() === 'Conv2D')) assert.equal(l.getConfig().useBias, false, l.name);
      // The Add layers take two branches each: the identity shortcut and the projection.
      assert.deepEqual(model.getLayer('block1_add').inboundNodes[0].inboundLayers.map((l) => l.name), ['stem_relu', 'block1_bn2']);
      assert.deepEqual(model.getLayer('block2_add').inboundNodes[0].inboundLayers.map((l) => l.name), ['block2_proj_bn', 'block2_bn2']);
      assert.deepEqual(countParams(model), { total: 19_994, trainable: 19_706, nonTrainable: 288 });
    } finally {
      model.dispose();
    }
  });

  it('the same seed gives the same initial weights', async () => {
    const a = await withSeededMathRandom(new Rng('resnet'), () => buildModel(resnetSpec()));
    const b = withSeededMathRandom(new Rng('resnet'), () => buildGraph(resnetSpec()));
    try {
      assert.deepEqual(snapshot(a), snapshot(b));
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('trains one step on the cpu backend (weights and batch-norm statistics change) and predicts probabilities', async () => {
    const model = await withSeededMathRandom(new Rng('resnet-cpu'), () => buildModel(resnetSpec()));
    model.compile({ optimizer: tfc.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const ex = examples(2, 'resnet-step');
    const { x, y } = batch(ex);
    try {
      const before = snapshot(model);
      const [loss] = (await model.trainOnBatch(x, y)) as number[];
      assert.ok(Number.isFinite(loss));
      const after = snapshot(model);
      model.weights.forEach((w, i) => assert.ok(before[i].some((v, j) => v !== after[i][j]), `${w.originalName} changed`));
      const probs = predictProbs(model, ex);
      assert.equal(probs.length, 2 * 10);
      for (let i = 0; i < 2; i++) assert.ok(Math.abs(probs.subarray(i * 10, i * 10 + 10).reduce((s, p) => s + p, 0) - 1) < 1e-5);
    } finally {
      tfc.dispose([x, y]);
      model.dispose();
    }
  });

  it('trains on the native backend to the cpu backend\'s first loss (same seed)', async (t) => {
    const reason = await startNative();
    if (reason) return t.skip(reason);
    const ex = examples(2, 'resnet-native');
    // The reference takes only the first step: the cpu backend's convolution gradients take seconds a step.
    const step = async (backend: string, steps: number) => {
      await tfc.setBackend(backend);
      const model = await withSeededMathRandom(new Rng('resnet-native'), () => buildModel(resnetSpec()));
      model.compile({ optimizer: tfc.train.adam(0.01), loss: 'categoricalCrossentropy' });
      const { x, y } = batch(ex);
      const losses: number[] = [];
      for (let i = 0; i < steps; i++) losses.push((await model.trainOnBatch(x, y)) as number);
      const probs = steps > 1 ? predictProbs(model, ex) : new Float32Array(0);
      tfc.dispose([x, y]);
      model.dispose();
      return { losses, probs };
    };
    try {
      const native = await step('native', 2);
      const cpu = await step('cpu', 1);
      assert.ok(Math.abs(native.losses[0] - cpu.losses[0]) <= 1e-4 * Math.abs(cpu.losses[0]), `first loss: native ${native.losses[0]}, cpu ${cpu.losses[0]}`);
      assert.ok(native.losses[1] < native.losses[0], 'the loss falls on a repeated batch');
      assert.equal(native.probs.length, 20);
    } finally {
      await tfc.setBackend('cpu');
    }
  });

  it('predictProbs refuses examples of another shape with a clear error', async () => {
    const model = await buildModel(resnetSpec());
    try {
      assert.throws(() => predictProbs(model, examples(2, 'wrong', [32, 32, 1])), (e: unknown) => e instanceof UserError && /takes 28x28x1 images, but the examples are 32x32x1/.test(e.message));
    } finally {
      model.dispose();
    }
  });

  it('activation maps: every conv layer of the graph, in graph order, at its own size', async () => {
    const model = await buildModel(resnetSpec());
    try {
      const before = tfc.memory().numTensors;
      const ex = examples(1, 'maps');
      const maps = await convActivations(model, ex.x, ex.shape);
      assert.equal(tfc.memory().numTensors, before, 'no tensor leak');
      const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.name);
      assert.deepEqual(maps.map((m) => m.name), convs);
      assert.deepEqual(maps.find((m) => m.name === 'block2_proj')?.shape, [14, 14, 32]);
      assert.deepEqual(maps[0].shape, [28, 28, 16]);
      // The stem's map is the stem conv applied to the image.
      const stem = tfc.tidy(() => tfl.model({ inputs: model.inputs, outputs: model.getLayer('stem_conv').output as tfl.SymbolicTensor }).predict(tfc.tensor4d(ex.x, [1, 28, 28, 1])) as tfc.Tensor);
      assert.deepEqual(Array.from(maps[0].data), Array.from(stem.dataSync()));
      stem.dispose();
    } finally {
      model.dispose();
    }
  });

  it('learned features default to the pooled features the classifier takes', async () => {
    const model = await buildModel(resnetSpec());
    try {
      assert.equal(defaultFeatureLayer(model), 'pool');
      const ex = examples(5, 'features');
      const m = learnedFeatures(model, ex, [4, 0, 2], 'pool', 2);
      assert.deepEqual([m.rows, m.cols], [3, 32]);
    } finally {
      model.dispose();
    }
  });

  it('saves and loads with identical predictions; the models listing shows every layer and its inputs', async () => {
    const model = await buildModel(resnetSpec());
    try {
      const dir = path.join(tmp, 'resnet');
      await saveModel(model, dir);
      const loaded = await loadModel(dir);
      const ex = examples(3, 'roundtrip');
      assert.deepEqual(predictProbs(loaded, ex), predictProbs(model, ex));
      loaded.dispose();
    } finally {
      model.dispose();
    }
    const d = await describeModel(resnetSpec());
    assert.ok(d.available);
    assert.equal(d.kind, 'graph');
    assert.deepEqual(d.params, { total: 19_994, trainable: 19_706, nonTrainable: 288 });
    const add = d.layers.find((l) => l.name === 'block2_add');
    assert.deepEqual(add?.inputs, ['block2_proj_bn', 'block2_bn2']);
    assert.equal(d.layers[0].type, 'InputLayer');
  });
});
