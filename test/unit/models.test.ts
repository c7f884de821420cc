/**
 * The model registry and its 'layers' kind: cnn1/cnn3/cnn4 are built exactly as before model
 * kinds existed (same layers, same arguments, same initial weights for a seed), and the checks of
 * a model's input and output shapes.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-cpu';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FASHION_SHAPE, NUM_CLASSES } from '../../src/data/types.js';
import { defaultFeatureLayer } from '../../src/explain/embed/features.js';
import { buildModel, buildSequential, countParams, requireModelSpec } from '../../src/models/build.js';
import { describeModel } from '../../src/models/describe.js';
import { findModelSpec, MODEL_SPECS, modelNames, PLANNED_MODELS } from '../../src/models/registry.js';
import { checkModelIO, modelImageShape } from '../../src/models/shape.js';
import type { LayerSpec, LayersSpec } from '../../src/models/spec.js';
import { modelsText } from '../../src/cli/commands/models.js';
import { UserError } from '../../src/util/errors.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';

before(async () => {
  await tfc.setBackend('cpu');
});

/** The construction of a model before model kinds existed (src/models/build.ts at d70ef81), kept as the reference. */
function oldToLayer(spec: LayerSpec, first: boolean): tfl.layers.Layer {
  const input = first ? { inputShape: [...[28, 28, 1]] } : {};
  switch (spec.type) {
    case 'conv2d':
      return tfl.layers.conv2d({ ...input, filters: spec.filters, kernelSize: spec.kernel ?? 3, activation: 'relu', kernelInitializer: 'glorotUniform' });
    case 'maxPool':
      return tfl.layers.maxPooling2d({ ...input, poolSize: spec.size });
    case 'dropout':
      return tfl.layers.dropout({ ...input, rate: spec.rate });
    case 'batchNorm':
      return tfl.layers.batchNormalization({ ...input });
    case 'flatten':
      return tfl.layers.flatten({ ...input });
    case 'dense':
      return tfl.layers.dense({ ...input, units: spec.units, activation: spec.activation ?? 'relu', kernelInitializer: 'glorotUniform' });
    default:
      throw new Error(`no such layer before model kinds: ${spec.type}`);
  }
}

function oldBuildModel(spec: LayersSpec): tfl.Sequential {
  const model = tfl.sequential({ name: spec.name });
  spec.layers.forEach((l, i) => model.add(oldToLayer(l, i === 0)));
  return model;
}

function layersSpec(name: string): LayersSpec {
  const spec = requireModelSpec(name);
  assert.equal(spec.kind, 'layers');
  return spec as LayersSpec;
}

/** A layer's configuration without its name (names carry a process-wide counter). */
const configOf = (l: tfl.layers.Layer) => {
  const { name: _name, ...config } = l.getConfig();
  return { className: l.getClassName(), config };
};

test('the registry: names, lookups, planned models, one input shape per spec', () => {
  assert.deepEqual(modelNames().slice(0, 3), ['cnn1', 'cnn3', 'cnn4']);
  assert.ok(modelNames().includes('resnet-mini'));
  assert.equal(findModelSpec('cnn3')?.kind, 'layers');
  assert.equal(findModelSpec('resnet-mini')?.kind, 'graph');
  assert.equal(findModelSpec('nope'), undefined);
  assert.throws(() => requireModelSpec('nope'), (e: unknown) => e instanceof UserError && /unknown model "nope" \(choose one of cnn1, cnn3, cnn4, best, best-wide, resnet-mini, vgg19, darknet-transfer, transfer\)/.test(e.message));
  assert.deepEqual(PLANNED_MODELS, {});
  assert.equal(findModelSpec('vgg19')?.kind, 'transfer');
  for (const spec of MODEL_SPECS) assert.deepEqual(spec.input, FASHION_SHAPE, spec.name);
});

test('best is ResNet-9 at half width: 8 convolutions with batch norm, 2 residual adds, 1,648,896 parameters', async () => {
  const model = await buildModel(findModelSpec('best')!);
  const kinds = model.layers.map((l) => l.getClassName());
  const count = (k: string) => kinds.filter((c) => c === k).length;
  assert.equal(count('Conv2D'), 8);
  assert.equal(count('BatchNormalization'), 8);
  assert.equal(count('Add'), 2);
  assert.equal(count('MaxPooling2D'), 4);
  assert.equal(countParams(model).total, 1_648_896);
  assert.deepEqual(model.outputs[0].shape, [null, 10]);
  // Its learned features are the 256 pooled channels the classifier takes, not the (scaled) logits.
  assert.equal(defaultFeatureLayer(model), 'flatten');
  assert.deepEqual(model.getLayer('flatten').outputShape, [null, 256]);
  model.dispose();
});

test('best-wide is the same ResNet-9 at full width: every layer twice as many channels, about 4x the parameters', async () => {
  const [half, full] = await Promise.all([buildModel(findModelSpec('best')!), buildModel(findModelSpec('best-wide')!)]);
  try {
    assert.deepEqual(full.layers.map((l) => l.getClassName()), half.layers.map((l) => l.getClassName()));
    for (const layer of full.layers.filter((l) => l.getClassName() === 'Conv2D')) {
      const filters = (layer.getConfig() as { filters: number }).filters;
      assert.equal(filters, 2 * (half.getLayer(layer.name).getConfig() as { filters: number }).filters, layer.name);
    }
    assert.equal(countParams(full).total, 6_578_688);
    assert.deepEqual(full.getLayer('flatten').outputShape, [null, 512]);
  } finally {
    half.dispose();
    full.dispose();
  }
});

test('cnn1, cnn3 and cnn4 keep their parameter counts and are Sequential models', async () => {
  const expected: Record<string, [number, number]> = { cnn1: [693_962, 0], cnn3: [241_546, 0], cnn4: [1_221_546, 1_792] };
  for (const [name, [total, nonTrainable]] of Object.entries(expected)) {
    const model = await buildModel(requireModelSpec(name));
    try {
      assert.ok(model instanceof tfl.Sequential, `${name} is a tfl.Sequential`);
      assert.equal(model.name, name);
      assert.deepEqual(countParams(model), { total, trainable: total - nonTrainable, nonTrainable }, name);
      assert.equal(requireModelSpec(name).article?.params, total);
    } finally {
      model.dispose();
    }
  }
});

test('cnn1, cnn3 and cnn4 under a seeded Math.random: the same layers and initial weights as the construction before model kinds', async () => {
  for (const name of ['cnn1', 'cnn3', 'cnn4']) {
    const spec = layersSpec(name);
    const now = await withSeededMathRandom(Rng.derive(7, 'init'), () => buildModel(spec));
    const old = withSeededMathRandom(Rng.derive(7, 'init'), () => oldBuildModel(spec));
    try {
      assert.deepEqual(now.layers.map(configOf), old.layers.map(configOf), `${name}: layer classes and arguments`);
      const a = now.getWeights();
      const b = old.getWeights();
      assert.equal(a.length, b.length);
      a.forEach((w, i) => {
        assert.deepEqual(w.shape, b[i].shape, `${name}: weight ${i} shape`);
        assert.ok(Buffer.from((w.dataSync() as Float32Array).buffer).equals(Buffer.from((b[i].dataSync() as Float32Array).buffer)), `${name}: weight ${i} (${now.weights[i].originalName}) differs`);
      });
      // A different seed gives different weights, so the comparison above means something.
      const other = withSeededMathRandom(Rng.derive(8, 'init'), () => buildSequential(spec));
      assert.notDeepEqual(Array.from(other.getWeights()[0].dataSync()), Array.from(a[0].dataSync()));
      other.dispose();
    } finally {
      now.dispose();
      old.dispose();
    }
  }
});

test('the default feature layer of cnn1/cnn3/cnn4 is still the layer before the classifier', async () => {
  for (const name of ['cnn1', 'cnn3', 'cnn4']) {
    const model = await buildModel(requireModelSpec(name));
    try {
      assert.equal(defaultFeatureLayer(model), model.layers[model.layers.length - 2].name, name);
    } finally {
      model.dispose();
    }
  }
  const cnn3 = await buildModel(requireModelSpec('cnn3'));
  assert.equal(cnn3.getLayer(defaultFeatureLayer(cnn3)).getClassName(), 'Dropout');
  cnn3.dispose();
});

test('modelImageShape and checkModelIO: a model that fits passes; a wrong input or output is a UserError naming the file', () => {
  const model = buildSequential(layersSpec('cnn1'));
  const other = tfl.sequential({ name: 'other' });
  other.add(tfl.layers.flatten({ inputShape: [32, 32, 3] }));
  other.add(tfl.layers.dense({ units: 5, activation: 'softmax' }));
  const fiveClasses = tfl.sequential();
  fiveClasses.add(tfl.layers.flatten({ inputShape: [28, 28, 1] }));
  fiveClasses.add(tfl.layers.dense({ units: 5, activation: 'softmax' }));
  try {
    assert.deepEqual(modelImageShape(model), [28, 28, 1]);
    assert.deepEqual(modelImageShape(other), [32, 32, 3]);
    checkModelIO(model, { input: FASHION_SHAPE, classes: NUM_CLASSES }, '/runs/a/model');
    const rejects = (m: tfl.LayersModel, re: RegExp) =>
      assert.throws(
        () => checkModelIO(m, { input: FASHION_SHAPE, classes: NUM_CLASSES }, '/runs/b/model'),
        (e: unknown) => e instanceof UserError && e.message.startsWith('/runs/b/model: ') && re.test(e.message) && !e.message.includes('\n'),
      );
    rejects(other, /takes input of shape \[batch, 32, 32, 3\], not 28x28x1 images/);
    rejects(fiveClasses, /gives output of shape \[batch, 5\], not 10 class probabilities/);

    const open = tfl.sequential();
    open.add(tfl.layers.globalAveragePooling2d({ inputShape: [null, null, 1] as unknown as number[] }));
    assert.throws(() => modelImageShape(open), UserError);
    open.dispose();
  } finally {
    model.dispose();
    other.dispose();
    fiveClasses.dispose();
  }
});

test('describeModel and the models listing: kind, every layer, parameter counts', async () => {
  const cnn4 = await describeModel(requireModelSpec('cnn4'));
  assert.ok(cnn4.available);
  assert.equal(cnn4.kind, 'layers');
  assert.deepEqual(cnn4.params, { total: 1_221_546, trainable: 1_219_754, nonTrainable: 1_792 });
  assert.equal(cnn4.layers.length, layersSpec('cnn4').layers.length);
  assert.deepEqual(cnn4.layers[0].outputShape, [null, 26, 26, 32]);
  assert.equal(cnn4.layers.reduce((s, l) => s + l.params, 0), 1_221_546);
  const lines = modelsText([cnn4], { vgg19: 'later' });
  assert.match(lines[0], /^cnn4 — .* \[layers\]: 1,221,546 parameters \(1,219,754 trainable, 1,792 non-trainable\)$/);
  assert.equal(lines.length, 1 + cnn4.layers.length + 1);
  assert.equal(lines[lines.length - 1], 'vgg19 — later');
});
