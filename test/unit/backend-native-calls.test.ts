/**
 * Every registered model, unchanged, trains and predicts through the addon: a real trainOnBatch
 * (Adam, categorical cross-entropy) and a real predict on the native backend, with the addon's
 * kernel calls counted (src/backend/native/addon.ts, countingAddon). A kernel that silently
 * falls back to wasm, or a patch that no longer takes effect, leaves its count short.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { buildModel } from '../../src/models/build.js';
import type * as tfl from '@tensorflow/tfjs-layers';
import { inboundLayersIn } from '../../src/models/inspect.js';
import { MODEL_SPECS, type ModelSpec } from '../../src/models/registry.js';
import { runnableSpec } from '../helpers/runnable-spec.js';
import { Rng, withSeededMathRandom } from '../../src/util/rng.js';
import { nativeKernelRuns } from '../../src/backend/native/index.js';
import type { KernelRuns } from '../../src/backend/native/context.js';
import { countNativeCalls, nativeSkip, requireNative, startNative, type Calls } from '../helpers/native.js';

const reason = await startNative();
const skip = nativeSkip(reason);
if (skip) console.log(`# skipping the native call-count tests: ${skip}`);

const BATCH = 8;

/** How many layers of each kind the built model has (any kind of model: layer list or graph). */
function layerCounts(model: tfl.LayersModel) {
  const cls = (l: tfl.layers.Layer) => l.getClassName();
  const layers = model.layers.filter((l) => cls(l) !== 'InputLayer');
  const of = (name: string) => layers.filter((l) => cls(l) === name);
  const inbound = (l: tfl.layers.Layer) => inboundLayersIn(model, l).filter((p) => cls(p) !== 'InputLayer');
  const convs = of('Conv2D');
  // A batch norm right after a convolution is folded into it for inference (no batchNorm call).
  const bnNotAfterConv = of('BatchNormalization').filter((l) => !inbound(l).some((p) => cls(p) === 'Conv2D')).length;
  // The images entering the model need no gradient: a convolution reading them gets no input gradient.
  const convOnInput = convs.filter((l) => inbound(l).length === 0).length;
  // A convolution with a bias or a ReLU has its activation and bias gradients from the fused path.
  const convWithBiasOrRelu = convs.filter((l) => {
    const c = l.getConfig() as { useBias?: boolean; activation?: string };
    return c.useBias !== false || c.activation === 'relu';
  }).length;
  return { conv: convs.length, convOnInput, convWithBiasOrRelu, pool: of('MaxPooling2D').length, dense: of('Dense').length, bn: of('BatchNormalization').length, bnNotAfterConv, add: of('Add').length, firstIsConv: convOnInput > 0 };
}

/**
 * The TF.js kernels of the layers' heavy work: convolutions, poolings, residual adds, batch norms,
 * dense layers and Adam (the FashionCnn* kernels are the native backend's own, see
 * src/backend/native/patches). None of them may hand over to wasm, whatever the model.
 */
const LAYER_KERNELS = [
  'Conv2D', 'FusedConv2D', 'FashionCnnConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'FashionCnnReluGradBias',
  'MaxPool', 'MaxPoolGrad', 'FashionCnnPoolReluGradBias', 'FashionCnnConvPoolFilterGrad', 'Add', 'AddN',
  'FashionCnnBatchNorm', 'FashionCnnBatchNormTraining', 'FashionCnnMoments', 'FashionCnnBatchNormGradStats', 'FashionCnnBatchNormTrainingGradX',
  'MatMul', 'BatchMatMul', '_FusedMatMul', 'FashionCnnMatMul', 'FashionCnnAdamUpdate',
] as const;

/** Runs of each TF.js kernel during `fn`, and how many of them the wasm backend computed. */
async function countKernelRuns<T>(fn: () => Promise<T>): Promise<{ result: T; runs: Map<string, KernelRuns> }> {
  const before = nativeKernelRuns()!;
  const result = await fn();
  const runs = new Map<string, KernelRuns>();
  for (const [name, r] of nativeKernelRuns()!) {
    const b = before.get(name) ?? { runs: 0, wasm: 0, ms: 0 };
    if (r.runs > b.runs) runs.set(name, { runs: r.runs - b.runs, wasm: r.wasm - b.wasm, ms: r.ms - b.ms });
  }
  return { result, runs };
}

function noLayerKernelOnWasm(runs: Map<string, KernelRuns>, what: string): void {
  const show = () => JSON.stringify(Object.fromEntries(runs));
  for (const name of LAYER_KERNELS) assert.equal(runs.get(name)?.wasm ?? 0, 0, `${what}: ${name} ran on wasm (kernel runs: ${show()})`);
}

function kernelRunsAtLeast(runs: Map<string, KernelRuns>, names: string[], expected: number, what: string): void {
  const got = names.reduce((s, name) => s + (runs.get(name)?.runs ?? 0), 0);
  assert.ok(got >= expected, `${what}: ${names.join(' + ')} ran ${got} times, expected at least ${expected} (kernel runs: ${JSON.stringify(Object.fromEntries(runs))})`);
}

const n = (calls: Calls, ...names: (keyof Calls)[]) => names.reduce((s, name) => s + (calls[name] ?? 0), 0);

function atLeast(calls: Calls, names: (keyof Calls)[], expected: number, what: string): void {
  const got = n(calls, ...names);
  assert.ok(got >= expected, `${what}: ${names.join(' + ')} ran ${got} times, expected at least ${expected} (calls: ${JSON.stringify(calls)})`);
}

describe('every registered model trains and predicts on the addon', { skip }, () => {
  before(requireNative);

  it('there are models to check', () => assert.ok(MODEL_SPECS.length > 0));

  for (const registered of MODEL_SPECS) {
    const runnable = runnableSpec(registered);
    it(`${registered.name}: trainOnBatch and predict run their convolutions, matmuls, poolings, batch norms and Adam natively`, { skip: typeof runnable === 'string' ? runnable : false }, async () => {
      const spec = runnable as ModelSpec;
      await tf.setBackend('native');
      assert.equal(tf.getBackend(), 'native');
      const rng = new Rng(`calls-${spec.name}`);
      const model = await withSeededMathRandom(rng, () => buildModel(spec));
      model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
      const inputShape = model.inputs[0].shape.slice(1) as number[];
      const classes = model.outputs[0].shape[1] as number;
      const size = inputShape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(Float32Array.from({ length: BATCH * size }, () => rng.next()), [BATCH, ...inputShape]);
      const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % classes), 'int32'), classes), 'float32'));
      const c = layerCounts(model);

      const { result: { result: loss, calls: train }, runs: trainRuns } = await countKernelRuns(() => countNativeCalls(() => withSeededMathRandom(rng, () => model.trainOnBatch(x, y))));
      noLayerKernelOnWasm(trainRuns, 'training');
      // A residual add runs forward, and again where the gradients of a forked tensor meet.
      kernelRunsAtLeast(trainRuns, ['Add', 'AddN'], 2 * c.add, 'training, residual adds and their gradient sums');
      atLeast(train, ['binary', 'addN'], 2 * c.add, 'training, residual adds (binary, addN)');
      // Per layer, its own kernel ran on this backend (the addon counts above cannot tell a pooling
      // fused into a convolution from one that ran by itself).
      kernelRunsAtLeast(trainRuns, ['Conv2D', 'FusedConv2D', 'FashionCnnConv2D'], c.conv, 'training, convolution kernels');
      kernelRunsAtLeast(trainRuns, ['MaxPool'], c.pool, 'training, max-pooling kernels');
      kernelRunsAtLeast(trainRuns, ['MaxPoolGrad'], c.pool, 'training, max-pooling gradient kernels');
      for (const kernel of ['FashionCnnBatchNormTraining', 'FashionCnnBatchNormGradStats', 'FashionCnnBatchNormTrainingGradX']) {
        kernelRunsAtLeast(trainRuns, [kernel], c.bn, `training, batch norm kernels (${kernel})`);
      }
      assert.ok(Number.isFinite(loss as number), `loss ${String(loss)}`);
      atLeast(train, ['conv2d', 'conv2dPool'], c.conv, 'training, convolution forward');
      atLeast(train, ['conv2dBackpropInput'], c.conv - c.convOnInput, 'training, convolution input gradient');
      // A first layer followed by a pooling gets its filter gradient from the pooled gradient (convPoolFilterGrad).
      atLeast(train, ['conv2dBackpropFilter', 'convPoolFilterGrad'], c.conv, 'training, convolution filter gradient');
      // Bias and ReLU gradients of each convolution layer come from the fused training path.
      atLeast(train, ['reluGradBias', 'poolReluGradBias', 'convPoolFilterGrad'], c.convWithBiasOrRelu, 'training, fused activation and bias gradients');
      atLeast(train, ['matmul'], 3 * c.dense - (c.firstIsConv ? 0 : 1), 'training, dense forward and gradients');
      atLeast(train, ['maxPool', 'conv2dPool'], c.pool, 'training, max pooling');
      atLeast(train, ['maxPoolGrad', 'poolReluGradBias', 'convPoolFilterGrad'], c.pool, 'training, max-pooling gradient');
      for (const kernel of ['batchNorm', 'moments', 'batchNormGradStats', 'batchNormTrainingGradX'] as const) {
        atLeast(train, [kernel], c.bn, `training, batch norm (${kernel})`);
      }
      assert.equal(train.adamUpdate ?? 0, model.trainableWeights.length, `training: one native Adam update per trainable weight (calls: ${JSON.stringify(train)})`);

      const { result: { calls: predict }, runs: predictRuns } = await countKernelRuns(() =>
        countNativeCalls(async () => {
          const out = model.predict(x) as tf.Tensor;
          assert.deepEqual(out.shape, [BATCH, classes]);
          await out.data();
          out.dispose();
        }),
      );
      noLayerKernelOnWasm(predictRuns, 'predict');
      kernelRunsAtLeast(predictRuns, ['Add', 'AddN'], c.add, 'predict, residual adds');
      kernelRunsAtLeast(predictRuns, ['MaxPool'], c.pool, 'predict, max pooling (each layer, fused or not)');
      kernelRunsAtLeast(predictRuns, ['Conv2D', 'FusedConv2D', 'FashionCnnConv2D'], c.conv, 'predict, convolution kernels');
      kernelRunsAtLeast(predictRuns, ['FashionCnnBatchNorm'], c.bn, 'predict, batch norm kernels (each layer, folded or not)');
      atLeast(predict, ['binary', 'addN'], c.add, 'predict, residual adds (binary, addN)');
      atLeast(predict, ['conv2d', 'conv2dPool'], c.conv, 'predict, convolutions');
      atLeast(predict, ['matmul'], c.dense, 'predict, dense layers');
      atLeast(predict, ['maxPool', 'conv2dPool'], c.pool, 'predict, max pooling');
      atLeast(predict, ['batchNorm'], c.bnNotAfterConv, 'predict, batch norms not folded into a convolution');

      tf.dispose([x, y]);
      model.dispose();
    });
  }
});
