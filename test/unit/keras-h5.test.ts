/**
 * Keras HDF5 weights into TF.js models (src/models/keras-h5.ts). The files are written here with
 * h5wasm in Keras's exact layout (root attribute layer_names; a group per layer with the attribute
 * weight_names; datasets at <layer>/<layer>/kernel:0; an empty weight_names for a layer without
 * weights), plus one file written by h5py (test/fixtures/keras-h5: float16 weights, which h5wasm
 * cannot write). resolveWeightsFile is tested against a little HTTP server on 127.0.0.1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import '@tensorflow/tfjs-backend-cpu';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as h5 from 'h5wasm/node';
import type { DownloadProgressEvent } from '../../src/data/download.js';
import { loadKerasWeights, readKerasWeights, resolveWeightsFile, VGG19_NOTOP_MD5, VGG19_NOTOP_URL, weightsCacheName } from '../../src/models/keras-h5.js';
import { Rng } from '../../src/util/rng.js';
import { rejectsWith } from '../helpers/assert-user-error.js';
import { writeKerasH5, type FileLayer, type FileWeight, type Group } from '../helpers/keras-h5-writer.js';

const tmp = await fs.mkdtemp(path.join(tmpdir(), 'keras-h5-'));
const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/keras-h5/keras-h5py.h5', import.meta.url));

// ---------------------------------------------------------------------------------------------
// The models

/** input 6x6x1 -> block1_conv1 (4) -> block1_pool -> block2_conv1 (8) -> flatten -> fc1 (5) -> head (3, not in the files). */
function buildModel(opts: { conv2Filters?: number } = {}): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 1], name: 'image' });
  let x = tfl.layers.conv2d({ name: 'block1_conv1', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ name: 'block1_pool', poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ name: 'block2_conv1', filters: opts.conv2Filters ?? 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ name: 'fc1', units: 5, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ name: 'head', units: 3, activation: 'softmax' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x, name: 'tiny_vgg' });
}

/** The same layers, the convolutional base as a nested model named 'backbone' (as a transfer model holds it). */
function buildNestedModel(): tfl.LayersModel {
  const bbInput = tfl.input({ shape: [6, 6, 1] });
  let b = tfl.layers.conv2d({ name: 'block1_conv1', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(bbInput) as tfl.SymbolicTensor;
  b = tfl.layers.maxPooling2d({ name: 'block1_pool', poolSize: 2 }).apply(b) as tfl.SymbolicTensor;
  b = tfl.layers.conv2d({ name: 'block2_conv1', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(b) as tfl.SymbolicTensor;
  const backbone = tfl.model({ inputs: bbInput, outputs: b, name: 'backbone' });
  const input = tfl.input({ shape: [6, 6, 1] });
  let x = backbone.apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ name: 'fc1', units: 5, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ name: 'head', units: 3, activation: 'softmax' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x, name: 'tiny_transfer' });
}

const rng = new Rng('keras-h5');
const randoms = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const weight = (layer: string, w: string, shape: number[]): FileWeight => ({ name: `${layer}/${w}:0`, shape, values: randoms(size(shape)) });

/** The file's layers: Keras's weightless input and pooling layers, the base's conv layers, fc1, and a top layer the model lacks. */
function fileLayers(opts: { conv2Kernel?: number[] } = {}): FileLayer[] {
  return [
    { name: 'input_1', weights: [] },
    { name: 'block1_conv1', weights: [weight('block1_conv1', 'kernel', [3, 3, 1, 4]), weight('block1_conv1', 'bias', [4])] },
    { name: 'block1_pool', weights: [] },
    { name: 'block2_conv1', weights: [weight('block2_conv1', 'kernel', opts.conv2Kernel ?? [3, 3, 4, 8]), weight('block2_conv1', 'bias', [8])] },
    { name: 'fc1', weights: [weight('fc1', 'kernel', [72, 5]), weight('fc1', 'bias', [5])] },
    { name: 'predictions', weights: [weight('predictions', 'kernel', [5, 7]), weight('predictions', 'bias', [7])] },
  ];
}

const LOADED = ['block1_conv1', 'block2_conv1', 'fc1'];

const values = (v: tfl.LayerVariable) => Float32Array.from(v.read().dataSync() as Float32Array);
const layerValues = (model: tfl.LayersModel, name: string) => model.getLayer(name).weights.map(values);

function assertLoaded(model: tfl.LayersModel, layers: FileLayer[], prefix = ''): void {
  for (const fl of layers.filter((l) => LOADED.includes(l.name))) {
    const layer = (prefix ? (model.getLayer(prefix) as tfl.LayersModel).getLayer(fl.name) : model.getLayer(fl.name));
    assert.equal(layer.weights.length, fl.weights.length, fl.name);
    layer.weights.forEach((v, i) => {
      assert.deepEqual(v.shape, fl.weights[i].shape, `${fl.name} ${fl.weights[i].name}`);
      assert.deepEqual(values(v), Float32Array.from(fl.weights[i].values), `${fl.name} ${fl.weights[i].name}`);
    });
  }
}

function batch(n: number, seed: string): tfc.Tensor4D {
  const r = new Rng(seed);
  return tfc.tensor4d(Float32Array.from({ length: n * 36 }, () => r.next()), [n, 6, 6, 1]);
}

const files = {
  weights: path.join(tmp, 'weights.h5'),
  model: path.join(tmp, 'model.h5'),
};
let layersA: FileLayer[];
let layersB: FileLayer[];

before(async () => {
  await tfc.setBackend('cpu');
  layersA = fileLayers();
  layersB = fileLayers();
  await writeKerasH5(files.weights, layersA, { strings: 'fixed' });
  await writeKerasH5(files.model, layersB, { strings: 'vlen', fullModel: true });
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe('readKerasWeights', () => {
  it('reads the layers in layer_names order, each weight with its name, shape and float32 values', async () => {
    const wf = await readKerasWeights(files.weights);
    assert.equal(wf.format, 'weights');
    assert.equal(wf.kerasVersion, '2.15.0');
    assert.equal(wf.backend, 'tensorflow');
    assert.deepEqual(wf.layers.map((l) => l.name), layersA.map((l) => l.name));
    wf.layers.forEach((l, i) => {
      assert.deepEqual(l.weights.map((w) => w.name), layersA[i].weights.map((w) => w.name));
      l.weights.forEach((w, k) => {
        assert.deepEqual(w.shape, layersA[i].weights[k].shape);
        assert.ok(w.values instanceof Float32Array);
        assert.deepEqual(w.values, layersA[i].weights[k].values);
        assert.equal(w.fileDtype, 'float32');
      });
    });
  });

  it('reads a full-model file (model.save: weights under model_weights) with variable-length names', async () => {
    const wf = await readKerasWeights(files.model);
    assert.equal(wf.format, 'model');
    assert.deepEqual(wf.layers.map((l) => l.name), layersB.map((l) => l.name));
    assert.deepEqual(wf.layers[1].weights[0].values, layersB[1].weights[0].values);
  });

  it('reads name lists split over several attributes (layer_names0, layer_names1, ...), and float64 weights as float32', async () => {
    const layers: FileLayer[] = fileLayers().map((l) => ({ ...l, weights: l.weights.map((w) => ({ ...w, values: Float64Array.from(w.values), dtype: '<d' })) }));
    const file = await writeKerasH5(path.join(tmp, 'chunked.h5'), layers, { chunks: 3, strings: 'vlen' });
    const wf = await readKerasWeights(file);
    assert.deepEqual(wf.layers.map((l) => l.name), layers.map((l) => l.name));
    const w = wf.layers[3].weights[0];
    assert.equal(w.fileDtype, 'float64');
    assert.deepEqual(w.values, Float32Array.from(layers[3].weights[0].values));
  });

  it('reads a file written by h5py: float16 and float64 weights, fixed- and variable-length names, an empty weight_names', async () => {
    const wf = await readKerasWeights(FIXTURE);
    assert.deepEqual(wf.layers.map((l) => l.name), ['input_1', 'block1_conv1', 'block1_pool', 'fc1']);
    assert.deepEqual(wf.layers.map((l) => l.weights.length), [0, 2, 0, 2]);
    const ramp = (n: number, offset: number) => Float32Array.from({ length: n }, (_, i) => (i - offset) / 8);
    const [kernel, bias] = wf.layers[1].weights;
    assert.deepEqual([kernel.name, kernel.fileDtype, kernel.shape], ['block1_conv1/kernel:0', 'float16', [3, 3, 1, 2]]);
    assert.deepEqual(kernel.values, ramp(18, 9));
    assert.deepEqual([bias.fileDtype, bias.values], ['float16', ramp(2, 1)]);
    const [fcKernel, fcBias] = wf.layers[3].weights;
    assert.deepEqual([fcKernel.fileDtype, fcKernel.shape], ['float64', [8, 3]]);
    assert.deepEqual(fcKernel.values, ramp(24, 12));
    assert.deepEqual(fcBias.values, ramp(3, 1));

    // And into a model: conv 3x3 1->2, pool, dense 8->3.
    const input = tfl.input({ shape: [4, 4, 1] });
    let x = tfl.layers.conv2d({ name: 'block1_conv1', filters: 2, kernelSize: 3, padding: 'same' }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.maxPooling2d({ name: 'block1_pool', poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ name: 'fc1', units: 3 }).apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: x });
    try {
      const report = await loadKerasWeights(model, FIXTURE);
      assert.deepEqual(report.loaded, ['block1_conv1', 'fc1']);
      assert.equal(report.params, 18 + 2 + 24 + 3);
      assert.deepEqual(layerValues(model, 'block1_conv1'), [ramp(18, 9), ramp(2, 1)]);
    } finally {
      model.dispose();
    }
  });
});

describe('loadKerasWeights', () => {
  it('sets every weight of the file\'s layers exactly; the head not in the file keeps its own values; the report says which', async () => {
    const model = buildModel();
    try {
      const head = layerValues(model, 'head');
      const report = await loadKerasWeights(model, files.weights, { allowMissing: ['head'] });
      assert.deepEqual(report, {
        file: files.weights,
        format: 'weights',
        loaded: LOADED,
        notInModel: ['predictions'],
        notInFile: ['head'],
        weights: 6,
        params: 3 * 3 * 4 + 4 + 3 * 3 * 4 * 8 + 8 + 72 * 5 + 5,
      });
      assertLoaded(model, layersA);
      assert.deepEqual(layerValues(model, 'head'), head);
    } finally {
      model.dispose();
    }
  });

  it('copies kernels as they are: conv [kh, kw, in, out] and dense [in, out] give the outputs computed by hand', async () => {
    const model = buildModel();
    try {
      await loadKerasWeights(model, files.weights, { allowMissing: true });
      const probe = tfl.model({ inputs: model.inputs, outputs: ['block1_conv1', 'flatten', 'fc1'].map((n) => model.getLayer(n).output as tfl.SymbolicTensor) });
      const xs = batch(2, 'layout');
      const [conv, flat, fc] = (probe.predict(xs) as tfc.Tensor[]).map((t) => t.dataSync() as Float32Array);
      const img = xs.dataSync();

      // block1_conv1: 3x3, 'same' padding (one pixel each side), 1 input channel, 4 filters, ReLU.
      const [k, b] = [layersA[1].weights[0].values, layersA[1].weights[1].values];
      for (let n = 0; n < 2; n++) {
        for (let y = 0; y < 6; y++) {
          for (let x = 0; x < 6; x++) {
            for (let o = 0; o < 4; o++) {
              let s = b[o];
              for (let i = 0; i < 3; i++) {
                for (let j = 0; j < 3; j++) {
                  const [yy, xx] = [y + i - 1, x + j - 1];
                  if (yy >= 0 && yy < 6 && xx >= 0 && xx < 6) s += img[n * 36 + yy * 6 + xx] * k[(i * 3 + j) * 4 + o];
                }
              }
              const got = conv[((n * 6 + y) * 6 + x) * 4 + o];
              assert.ok(Math.abs(got - Math.max(0, s)) < 1e-5, `conv ${n},${y},${x},${o}: ${got} vs ${Math.max(0, s)}`);
            }
          }
        }
      }
      // fc1: 72 -> 5, ReLU; kernel row-major [in, out].
      const [dk, db] = [layersA[4].weights[0].values, layersA[4].weights[1].values];
      for (let n = 0; n < 2; n++) {
        for (let o = 0; o < 5; o++) {
          let s = db[o];
          for (let i = 0; i < 72; i++) s += flat[n * 72 + i] * dk[i * 5 + o];
          assert.ok(Math.abs(fc[n * 5 + o] - Math.max(0, s)) < 1e-4, `fc1 ${n},${o}`);
        }
      }
      xs.dispose();
    } finally {
      model.dispose();
    }
  });

  it('the loaded model predicts a batch end to end, as a model given the same weights directly does', async () => {
    const model = buildModel();
    const reference = buildModel();
    try {
      await loadKerasWeights(model, files.weights, { allowMissing: ['head'] });
      for (const fl of layersA.filter((l) => LOADED.includes(l.name))) {
        reference.getLayer(fl.name).setWeights(fl.weights.map((w) => tfc.tensor(w.values, w.shape)));
      }
      reference.getLayer('head').setWeights(model.getLayer('head').getWeights());
      const xs = batch(4, 'end-to-end');
      const [got, want] = [model.predict(xs) as tfc.Tensor, reference.predict(xs) as tfc.Tensor];
      assert.deepEqual(got.shape, [4, 3]);
      assert.deepEqual(got.dataSync(), want.dataSync());
      const p = got.dataSync();
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(p[i * 3] + p[i * 3 + 1] + p[i * 3 + 2] - 1) < 1e-5);
      tfc.dispose([xs, got, want]);
    } finally {
      model.dispose();
      reference.dispose();
    }
  });

  it('loads a full-model file (model_weights, variable-length names) the same way', async () => {
    const model = buildModel();
    try {
      const report = await loadKerasWeights(model, files.model, { allowMissing: true });
      assert.equal(report.format, 'model');
      assert.deepEqual(report.loaded, LOADED);
      assertLoaded(model, layersB);
    } finally {
      model.dispose();
    }
  });

  it('finds the layers of a nested model (a backbone inside a transfer model)', async () => {
    const model = buildNestedModel();
    try {
      const head = layerValues(model, 'head');
      const report = await loadKerasWeights(model, files.weights, { allowMissing: ['head'] });
      assert.deepEqual(report.loaded, ['backbone/block1_conv1', 'backbone/block2_conv1', 'fc1']);
      assert.deepEqual(report.notInFile, ['head']);
      assertLoaded(model, layersA.filter((l) => l.name !== 'fc1'), 'backbone');
      assertLoaded(model, layersA.filter((l) => l.name === 'fc1'));
      assert.deepEqual(layerValues(model, 'head'), head);
    } finally {
      model.dispose();
    }
  });
});

describe('errors: one line, naming the file and what is wrong', () => {
  it('a file that does not exist, and one that is not HDF5 (random bytes)', async () => {
    const model = buildModel();
    try {
      await rejectsWith(loadKerasWeights(model, path.join(tmp, 'nowhere.h5')), /weights file .*nowhere\.h5 does not exist/);
      const junk = path.join(tmp, 'junk.h5');
      await fs.writeFile(junk, randomBytes(4096));
      await rejectsWith(loadKerasWeights(model, junk), /junk\.h5 is not an HDF5 file/);
      await rejectsWith(readKerasWeights(tmp), /is a directory, not a file$/);
    } finally {
      model.dispose();
    }
  });

  it('a damaged HDF5 file (the signature, then garbage)', async () => {
    const bad = path.join(tmp, 'damaged.h5');
    await fs.writeFile(bad, Buffer.concat([Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(3000)]));
    await rejectsWith(readKerasWeights(bad), /cannot open the HDF5 file .*damaged\.h5: /);
  });

  it('an HDF5 file without layer_names is not a Keras weights file', async () => {
    const file = await writeKerasH5(path.join(tmp, 'no-names.h5'), fileLayers(), { noLayerNames: true });
    await rejectsWith(readKerasWeights(file), /no-names\.h5: an HDF5 file but not a Keras weights file \(no attribute layer_names/);
  });

  it('a shape mismatch names the layer, the weight and both shapes, and leaves the model as it was', async () => {
    const file = await writeKerasH5(path.join(tmp, 'mismatch.h5'), fileLayers({ conv2Kernel: [3, 3, 4, 6] }));
    const model = buildModel();
    try {
      const before = model.weights.map(values);
      await rejectsWith(
        loadKerasWeights(model, file, { allowMissing: true }),
        /^layer block2_conv1, weight block2_conv1\/kernel:0: .*mismatch\.h5 holds shape \[3, 3, 4, 6\], the model's block2_conv1\/kernel has shape \[3, 3, 4, 8\]$/,
      );
      assert.deepEqual(model.weights.map(values), before, 'nothing was set, not even the layers before the mismatch');
    } finally {
      model.dispose();
    }
  });

  it('model layers with weights that the file lacks are named, unless allowed', async () => {
    const file = await writeKerasH5(path.join(tmp, 'no-block2.h5'), fileLayers().filter((l) => l.name !== 'block2_conv1'));
    const model = buildModel();
    try {
      await rejectsWith(loadKerasWeights(model, file), /no-block2\.h5 has no weights for the model's layers block2_conv1, head \(the file's layers with weights: block1_conv1, fc1, predictions\)$/);
      await rejectsWith(loadKerasWeights(model, file, { allowMissing: ['head'] }), /has no weights for the model's layer block2_conv1 \(/);
      await rejectsWith(loadKerasWeights(model, files.weights, { allowMissing: ['haed'] }), /allowMissing names haed, which the model has no layer of/);
      const report = await loadKerasWeights(model, file, { allowMissing: ['block2_conv1', 'head'] });
      assert.deepEqual(report.notInFile, ['block2_conv1', 'head']);
    } finally {
      model.dispose();
    }
  });

  it('a layer with another number of weights, a missing dataset, integer weights', async () => {
    const model = buildModel();
    try {
      const count = fileLayers();
      count[4].weights = count[4].weights.slice(0, 1);
      await rejectsWith(
        loadKerasWeights(model, await writeKerasH5(path.join(tmp, 'count.h5'), count), { allowMissing: true }),
        /^layer fc1: the model's layer has 2 weights \(fc1\/kernel, fc1\/bias\), .*count\.h5 has 1 \(fc1\/kernel:0\)$/,
      );

      const missing = path.join(tmp, 'missing-dataset.h5');
      await writeKerasH5(missing, fileLayers());
      const f = new h5.File(missing, 'a');
      const fc1 = f.get('fc1') as Group;
      fc1.delete_attribute('weight_names');
      fc1.create_attribute('weight_names', ['fc1/kernel:0', 'fc1/gamma:0'], null, 'S12');
      f.close();
      await rejectsWith(readKerasWeights(missing), /weight fc1\/gamma:0 of layer fc1: no dataset \/fc1\/fc1\/gamma:0/);

      const ints = fileLayers();
      ints[2] = { name: 'block1_pool', weights: [{ name: 'block1_pool/count:0', shape: [2], values: Int32Array.from([1, 2]), dtype: '<i' }] };
      await rejectsWith(readKerasWeights(await writeKerasH5(path.join(tmp, 'ints.h5'), ints)), /weight block1_pool\/count:0 of layer block1_pool is of type "<i"; only float16, float32 and float64 weights can be loaded/);
    } finally {
      model.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('resolveWeightsFile', () => {
  let server: http.Server;
  let base = '';
  const requests: string[] = [];
  let body: Buffer;
  let sha256 = '';
  let md5 = '';

  before(async () => {
    body = await fs.readFile(files.weights);
    sha256 = createHash('sha256').update(body).digest('hex');
    md5 = createHash('md5').update(body).digest('hex');
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url?.startsWith('/keras/')) res.writeHead(200, { 'Content-Length': body.length }).end(body);
      else if (req.url?.startsWith('/text/')) res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>sign in to download</html>\n');
      else res.writeHead(404).end('no such file');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const count = (p: string) => requests.filter((r) => r === p).length;

  it('downloads once into the cache with the checksum checked, then reuses the cached file', async () => {
    const cacheDir = path.join(tmp, 'cache-a');
    const lines: string[] = [];
    const events: DownloadProgressEvent[] = [];
    const opts = { sha256, cacheDir, log: (l: string) => lines.push(l), onProgress: (e: DownloadProgressEvent) => events.push(e) };
    const url = `${base}/keras/tiny_weights_notop.h5`;

    const first = await resolveWeightsFile(url, opts);
    assert.equal(first, path.join(cacheDir, weightsCacheName(new URL(url))));
    assert.match(path.basename(first), /^[0-9a-f]{16}-tiny_weights_notop\.h5$/);
    assert.deepEqual(await fs.readFile(first), body);
    assert.equal(count('/keras/tiny_weights_notop.h5'), 1);
    assert.deepEqual(await fs.readdir(cacheDir), [path.basename(first)], 'no temp file left');
    assert.match(lines.join('\n'), /^downloading http:\/\/127\.0\.0\.1:\d+\/keras\/tiny_weights_notop\.h5 to .*cache-a\/[0-9a-f]{16}-tiny_weights_notop\.h5$/m);
    assert.match(lines.join('\n'), /^saved .*tiny_weights_notop\.h5 \(0\.0 MB, SHA256 verified\)$/m);
    assert.ok(events.length >= 2 && events.at(-1)?.done && events.at(-1)?.received === body.length, 'progress reported to the end');

    lines.length = 0;
    const second = await resolveWeightsFile(url, opts);
    assert.equal(second, first);
    assert.equal(count('/keras/tiny_weights_notop.h5'), 1, 'not downloaded again');
    assert.deepEqual(lines, [`using the cached ${first} (SHA256 verified; not downloaded again)`]);

    // What was downloaded loads.
    const model = buildModel();
    try {
      const report = await loadKerasWeights(model, second, { allowMissing: ['head'] });
      assert.deepEqual(report.loaded, LOADED);
    } finally {
      model.dispose();
    }
  });

  it('the default cache is $FASHION_CNN_CACHE/weights; an MD5 (as Keras gives for its files) is checked too', async () => {
    const root = path.join(tmp, 'cache-root');
    const lines: string[] = [];
    const file = await resolveWeightsFile(`${base}/keras/md5.h5`, { md5, env: { FASHION_CNN_CACHE: root }, log: (l) => lines.push(l), onProgress: () => {} });
    assert.equal(file, path.join(root, 'weights', weightsCacheName(new URL(`${base}/keras/md5.h5`))));
    assert.match(lines.at(-1) ?? '', /MD5 verified/);
  });

  it('a wrong checksum fails and leaves no file in the cache; a damaged cached file is downloaded again', async () => {
    const cacheDir = path.join(tmp, 'cache-b');
    const url = `${base}/keras/bad.h5`;
    const wrong = '0'.repeat(64);
    await rejectsWith(
      resolveWeightsFile(url, { sha256: wrong, cacheDir, log: () => {}, onProgress: () => {} }),
      new RegExp(`bad\\.h5: checksum mismatch: SHA256 of the download is ${sha256}, expected ${wrong}; it was not saved$`),
    );
    assert.deepEqual(await fs.readdir(cacheDir), []);
    await rejectsWith(resolveWeightsFile(url, { md5: '1'.repeat(32), cacheDir, log: () => {}, onProgress: () => {} }), /MD5 of the download is/);
    assert.deepEqual(await fs.readdir(cacheDir), []);

    // A cached file that no longer matches is replaced.
    await fs.writeFile(path.join(cacheDir, weightsCacheName(new URL(url))), 'truncated');
    const before = count('/keras/bad.h5');
    const lines: string[] = [];
    const file = await resolveWeightsFile(url, { sha256, cacheDir, log: (l) => lines.push(l), onProgress: () => {} });
    assert.equal(count('/keras/bad.h5'), before + 1);
    assert.deepEqual(await fs.readFile(file), body);
    assert.match(lines[0], /^the cached .*bad\.h5 has SHA256 [0-9a-f]{64}, expected [0-9a-f]{64}: downloading it again$/);
  });

  it('local paths are used where they are; bad sources, checksums and HTTP errors are one-line errors', async () => {
    assert.equal(await resolveWeightsFile(files.weights, { log: () => {} }), files.weights);
    assert.equal(await resolveWeightsFile(`file://${files.weights}`, { sha256 }), files.weights);
    await rejectsWith(resolveWeightsFile(path.join(tmp, 'absent.h5')), /weights file .*absent\.h5 does not exist/);
    await rejectsWith(resolveWeightsFile(files.weights, { md5: '2'.repeat(32) }), /weights\.h5: MD5 is [0-9a-f]{32}, expected 2{32}$/);
    await rejectsWith(resolveWeightsFile(files.weights, { sha256: 'abc' }), /invalid SHA256 "abc" \(expected 64 hexadecimal digits\)/);
    await rejectsWith(resolveWeightsFile('ftp://example.invalid/x.h5'), /only local paths, file:\/\/ and http\(s\) URLs are supported$/);
    const cacheDir = path.join(tmp, 'cache-c');
    await rejectsWith(resolveWeightsFile(`${base}/gone/x.h5`, { cacheDir, log: () => {}, onProgress: () => {} }), /download of .*\/gone\/x\.h5 failed: HTTP 404/);
    assert.deepEqual(await fs.readdir(cacheDir), []);
  });

  it('a download that is not Keras weights (a text page) is not kept: every use downloads it again, with the same one line', async () => {
    const cacheDir = path.join(tmp, 'cache-text');
    const url = `${base}/text/weights.h5`;
    for (let i = 1; i <= 2; i++) {
      await rejectsWith(
        resolveWeightsFile(url, { cacheDir, log: () => {}, onProgress: () => {} }),
        new RegExp(`^${url.replace(/[./]/g, '\\$&')}: the download is not an HDF5 file \\(no HDF5 signature\\); expected Keras weights \\(\\.h5\\); it was not saved$`),
      );
      assert.equal(count('/text/weights.h5'), i, `download ${i} made`);
      assert.deepEqual(await fs.readdir(cacheDir), [], 'nothing kept');
    }
  });

  it('keys the cache by the whole URL: two URLs with one file name, or one named like Keras\'s VGG-19 file, never share a file', async () => {
    const cacheDir = path.join(tmp, 'cache-keys');
    const opts = { cacheDir, log: () => {}, onProgress: () => {} };
    const vggName = path.basename(new URL(VGG19_NOTOP_URL).pathname);
    const a = await resolveWeightsFile(`${base}/keras/a/${vggName}`, opts);
    const b = await resolveWeightsFile(`${base}/keras/b/${vggName}`, opts);
    assert.notEqual(a, b);
    assert.ok(!(await fs.readdir(cacheDir)).includes(vggName), 'the ImageNet file\'s own name is left alone');
    assert.equal(count(`/keras/a/${vggName}`), 1);
    assert.equal(await resolveWeightsFile(`${base}/keras/a/${vggName}`, opts), a, 'each URL finds its own download again');
    assert.equal(count(`/keras/a/${vggName}`), 1);
  });

  it('a named cache file (the ImageNet weights\' own) is checked against its MD5 on every use; a cached file that is no HDF5 is downloaded again', async () => {
    const cacheDir = path.join(tmp, 'cache-named');
    await fs.mkdir(cacheDir);
    const url = `${base}/keras/named.h5`;
    // Put there by hand (or by an older version's download of another URL): not the file the MD5 names.
    await fs.copyFile(files.model, path.join(cacheDir, 'named.h5'));
    const lines: string[] = [];
    const file = await resolveWeightsFile(url, { md5, cacheDir, cacheFile: 'named.h5', log: (l) => lines.push(l), onProgress: () => {} });
    assert.equal(file, path.join(cacheDir, 'named.h5'));
    assert.deepEqual(await fs.readFile(file), body);
    assert.match(lines[0], /^the cached .*named\.h5 has MD5 [0-9a-f]{32}, expected [0-9a-f]{32}: downloading it again$/);

    // Without a checksum, a cached file that is no HDF5 (damaged since) is not trusted either.
    const plain = `${base}/keras/plain.h5`;
    await fs.writeFile(path.join(cacheDir, weightsCacheName(new URL(plain))), 'not weights');
    lines.length = 0;
    await resolveWeightsFile(plain, { cacheDir, log: (l) => lines.push(l), onProgress: () => {} });
    assert.match(lines[0], /^the cached .*plain\.h5 is not an HDF5 file: downloading it again$/);
    assert.equal(count('/keras/plain.h5'), 1);
  });

  it('knows where keras.applications keeps VGG19\'s notop weights, and their MD5', () => {
    assert.equal(VGG19_NOTOP_URL, 'https://storage.googleapis.com/tensorflow/keras-applications/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');
    assert.match(VGG19_NOTOP_MD5, /^[0-9a-f]{32}$/);
  });
});
