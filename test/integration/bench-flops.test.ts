/**
 * FLOPs per image counted from a model's layers (src/bench/flops.ts), and `bench` reporting them
 * with the machine's peak (an FMA loop in the native addon) and the share of it each model reaches.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '../../src/backend/index.js';
import { modelFlops } from '../../src/bench/flops.js';
import { buildModel, requireModelSpec } from '../../src/models/build.js';
import { runCli } from '../helpers/cli.js';
import { nativeSkip, startNative } from '../helpers/native.js';

// Started before any test runs: a backend switch must not race the tests' own.
const skip = nativeSkip(await startNative());

/** Multiply-adds of a valid 3x3 convolution with stride 1, per image. */
const conv3x3 = (size: number, inC: number, outC: number) => (size - 2) * (size - 2) * outC * 9 * inC;

describe('modelFlops', () => {
  it("counts cnn1's convolution and dense layers: forward, and a training step without the first layer's input gradient", async () => {
    await tf.setBackend('cpu');
    const model = await buildModel(requireModelSpec('cnn1'));
    const f = modelFlops(model);
    // 28x28x1 -> conv 3x3x32 (26x26) -> pool (13x13) -> dense 5408 -> 128 -> 10.
    const conv = 2 * conv3x3(28, 1, 32);
    const dense = 2 * (13 * 13 * 32 * 128) + 2 * (128 * 10);
    assert.deepEqual(f.layers.map((l) => l.kind), ['Conv2D', 'Dense', 'Dense']);
    assert.equal(f.inference, conv + dense);
    assert.equal(f.training, 3 * (conv + dense) - conv, 'the images need no gradient');
    model.dispose();
  });

  it("counts cnn3's three convolutions", async () => {
    await tf.setBackend('cpu');
    const model = await buildModel(requireModelSpec('cnn3'));
    const f = modelFlops(model);
    // 28 -> conv 26 -> pool 13 -> conv 11 -> pool 5 -> conv 3 (x128) -> dense 1152 -> 128 -> 10.
    const first = 2 * conv3x3(28, 1, 32);
    const rest = 2 * (conv3x3(13, 32, 64) + conv3x3(5, 64, 128) + 3 * 3 * 128 * 128 + 128 * 10);
    assert.equal(f.inference, first + rest);
    assert.equal(f.training, first + 3 * rest + first /* its weight gradient */);
    model.dispose();
  });

  it('a frozen layer has no weight gradient, and layers with nothing trainable upstream no input gradient', async () => {
    await tf.setBackend('cpu');
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, trainable: false }),
        tfl.layers.conv2d({ filters: 5, kernelSize: 3 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 3 }),
      ],
    });
    const f = modelFlops(model);
    const [frozen, second, dense] = [2 * conv3x3(8, 2, 4), 2 * conv3x3(6, 4, 5), 2 * (4 * 4 * 5 * 3)];
    assert.deepEqual(f.layers.map((l) => l.backward), [0, second, 2 * dense]);
    assert.equal(f.inference, frozen + second + dense);
    model.dispose();
  });
});

describe('bench reports FLOPs, the peak and the share of it', { skip }, () => {
  it('a short run prints the peak per thread count and each model\'s MFLOP per image and share of peak', async () => {
    const r = await runCli(['bench', '--models', 'cnn1', '--backends', 'native', '--steps', '1', '--no-torch', '--json'], { timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      peak: { lanes: number; gflops: Record<string, number> };
      rows: { model: string; trainFlopsPerImage: number; inferFlopsPerImage: number; trainImgPerS: number; trainPeakShare: number; inferPeakShare: number; threads: number }[];
    };
    assert.ok([4, 8, 16].includes(report.peak.lanes));
    assert.ok(report.peak.gflops['1'] > 1, JSON.stringify(report.peak));
    const row = report.rows[0];
    const conv = 2 * conv3x3(28, 1, 32), dense = 2 * (13 * 13 * 32 * 128 + 128 * 10);
    assert.equal(row.inferFlopsPerImage, conv + dense);
    assert.equal(row.trainFlopsPerImage, 3 * (conv + dense) - conv);
    const peakAtThreads = report.peak.gflops[String(row.threads)];
    assert.ok(Math.abs(row.trainPeakShare - (row.trainImgPerS * row.trainFlopsPerImage) / (peakAtThreads * 1e9)) < 1e-9);
    // A share, not a bound: on a busy host the peak loop and the model are timed under different loads.
    assert.ok(row.trainPeakShare > 0 && Number.isFinite(row.trainPeakShare) && row.inferPeakShare > 0 && Number.isFinite(row.inferPeakShare));

    const md = await runCli(['bench', '--models', 'cnn1', '--backends', 'native', '--steps', '1', '--no-torch'], { timeoutMs: 240_000 });
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stderr, /peak \(float32 FMA loop, \d+ floats per vector\): 1 thread \d+ GFLOP\/s/);
    assert.match(md.stdout, /\| model \| backend \| train img\/s \| vs PyTorch \| inference img\/s \| vs PyTorch \| MFLOP\/image train \/ inference \| share of peak train \/ inference \|/);
    assert.match(md.stdout, /\| cnn1 \| native \| [\d,]+ \| — \| [\d,]+ \| — \| 4\.94 \/ 1\.78 \| \d+(\.\d)?% \/ \d+(\.\d)?% \|/);
    assert.match(md.stdout, /Peak: a float32 FMA loop in the native addon \(\d+ floats per vector\): 1 thread \d+ GFLOP\/s/);
  });
});
