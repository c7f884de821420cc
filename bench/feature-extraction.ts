/**
 * How fast the feature stage runs each frozen backbone on the native backend, and what share of
 * the machine's convolution throughput that is: images/s and GFLOP/s of the whole extractor
 * (adapter, backbone, pooling) on real test images, beside the GFLOP/s of one large oneDNN
 * convolution measured alone in the same process (the practical peak).
 *
 *   npm run bench:features -- [--backbones vgg19:48,darknet:112,darknet:224] [--images 2048] [--batch 64] [--json FILE]
 *
 * VGG-19 runs with random weights (speed does not depend on them); Tiny Darknet with its own, from
 * $FASHION_CNN_DARKNET or ../shared/pretrained/darknettiny.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../src/backend/index.js';
import { loadFashionMnist, toExamples } from '../src/data/index.js';
import { extractFeatures } from '../src/features/extract.js';
import { walkLayers } from '../src/models/inspect.js';
import { applyModelOptions, findModelSpec } from '../src/models/registry.js';
import type { TransferSpec } from '../src/models/spec.js';
import { buildExtractor } from '../src/models/transfer.js';
import { writeJsonAtomic } from '../src/util/atomic.js';

const { values: args } = parseArgs({
  options: {
    backbones: { type: 'string', default: 'vgg19:48,darknet:112,darknet:224' },
    images: { type: 'string', default: '2048' },
    batch: { type: 'string', default: '64' },
    json: { type: 'string' },
  },
});
const images = Number(args.images);
const batchSize = Number(args.batch);

/** Multiply-adds of every convolution of a model (nested ones too) for one image, times 2: FLOPs. */
function convFlops(model: tfl.LayersModel): number {
  let flops = 0;
  for (const { layer } of walkLayers(model)) {
    if (layer.getClassName() !== 'Conv2D') continue;
    const out = layer.outputShape as number[];
    const kernel = layer.getWeights()[0].shape as [number, number, number, number]; // [kh, kw, in, out]
    flops += 2 * out[1] * out[2] * kernel[0] * kernel[1] * kernel[2] * kernel[3];
  }
  return flops;
}

/** GFLOP/s of one 3x3, 256 -> 256 'same' convolution on a batch of 32 14x14 maps: oneDNN alone, no model around it. */
async function isolatedConvGflops(): Promise<number> {
  const x = tf.randomUniform([32, 14, 14, 256]) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, 256, 256], -0.05, 0.05) as tf.Tensor4D;
  const run = async () => {
    const y = tf.conv2d(x, w, 1, 'same');
    await y.data();
    y.dispose();
  };
  for (let i = 0; i < 3; i++) await run();
  const reps = 20;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await run();
  const seconds = (performance.now() - t0) / 1000;
  x.dispose();
  w.dispose();
  return (reps * 2 * 32 * 14 * 14 * 9 * 256 * 256) / seconds / 1e9;
}

const backend = await initBackend();
const test = toExamples((await loadFashionMnist()).test);
const subset = { ...test, count: Math.min(images, test.count), x: test.x.subarray(0, Math.min(images, test.count) * 784) };
const peakBefore = await isolatedConvGflops();
const rows: { backbone: string; inputSize: number; featureShape: readonly number[]; imagesPerSecond: number; gflopPerImage: number; gflops: number; shareOfConvPeak: number; secondsFor70k: number }[] = [];
for (const item of args.backbones.split(',')) {
  const [name, size] = item.split(':');
  const model = name === 'vgg19' ? 'vgg19' : name === 'darknet' ? 'darknet-transfer' : name;
  const spec = applyModelOptions(findModelSpec(model)!, { inputSize: Number(size), ...(model === 'vgg19' ? { weights: 'random' } : {}) }) as TransferSpec;
  const extractor = await buildExtractor(spec);
  const warm = { ...subset, count: batchSize, x: subset.x.subarray(0, batchSize * 784) };
  await extractFeatures(extractor.model, warm, extractor.featureShape, { label: `${item} warm-up`, batchSize });
  const t0 = performance.now();
  await extractFeatures(extractor.model, subset, extractor.featureShape, { label: item, batchSize });
  const seconds = (performance.now() - t0) / 1000;
  const flops = convFlops(extractor.model);
  const ips = subset.count / seconds;
  rows.push({ backbone: name, inputSize: Number(size), featureShape: extractor.featureShape, imagesPerSecond: ips, gflopPerImage: flops / 1e9, gflops: (ips * flops) / 1e9, shareOfConvPeak: 0, secondsFor70k: 70_000 / ips });
  extractor.model.dispose();
}
const peakAfter = await isolatedConvGflops();
const peak = Math.max(peakBefore, peakAfter);
for (const r of rows) r.shareOfConvPeak = r.gflops / peak;

console.log(`backend: ${backend.description}; ${subset.count} test images per backbone, batch ${batchSize}`);
console.log(`oneDNN alone (3x3 conv, 256->256, 14x14, batch 32): ${peakBefore.toFixed(0)} GFLOP/s before, ${peakAfter.toFixed(0)} after`);
console.log('| backbone | input | features | images/s | conv GFLOP/image | GFLOP/s | share of the isolated conv | 70,000 images |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.backbone} | ${r.inputSize}x${r.inputSize} | ${r.featureShape.join('x')} | ${r.imagesPerSecond.toFixed(0)} | ${r.gflopPerImage.toFixed(3)} | ${r.gflops.toFixed(0)} | ${(r.shareOfConvPeak * 100).toFixed(0)}% | ${(r.secondsFor70k / 60).toFixed(1)} min |`);
}
if (args.json) await writeJsonAtomic(args.json, { backend: backend.description, images: subset.count, batchSize, convPeakGflops: { before: peakBefore, after: peakAfter }, rows });
