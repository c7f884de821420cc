/**
 * Every model fashion-cnn can train, declared in one list (like a Keras model zoo): adding a model
 * is adding one entry (see spec.ts for the three kinds). cnn1, cnn3 and cnn4 are the article's
 * three Keras CNNs layer for layer, with Keras's defaults: 3x3 kernels, stride 1, 'valid' padding,
 * ReLU inside Conv2D and Dense, glorot-uniform kernels, zero biases; the parameter counts below
 * (`article.params`) are the article's and the tests check ours against them.
 */
import path from 'node:path';
import { CLASS_NAMES, FASHION_SHAPE } from '../data/types.js';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/package-root.js';
import type { GraphBuilder, Node } from './graph.js';
import type { LayerSpec, ModelOptions, ModelSpec, TransferSpec } from './spec.js';

export type { ArticleFigures, BackboneSpec, GraphSpec, LayerSpec, LayersSpec, ModelKind, ModelOptions, ModelSpec, TransferSpec } from './spec.js';

const softmaxOut: LayerSpec = { type: 'dense', units: CLASS_NAMES.length, activation: 'softmax' };

/**
 * A residual block (He et al. 2016): two 3x3 conv + batch norm, added to the block's input. With
 * `strides` 2 the first conv halves the image and a 1x1 conv + batch norm brings the shortcut to
 * the same shape. Layers are named `${name}_...`.
 */
function residualBlock(g: GraphBuilder, x: Node, name: string, filters: number, strides = 1): Node {
  const y = g.relu(g.batchNorm(g.conv2d(x, { name: `${name}_conv1`, filters, strides, padding: 'same', useBias: false }), { name: `${name}_bn1` }), { name: `${name}_relu1` });
  const z = g.batchNorm(g.conv2d(y, { name: `${name}_conv2`, filters, padding: 'same', useBias: false }), { name: `${name}_bn2` });
  const shortcut = strides === 1 ? x : g.batchNorm(g.conv2d(x, { name: `${name}_proj`, filters, kernel: 1, strides, useBias: false }), { name: `${name}_proj_bn` });
  return g.relu(g.add([shortcut, z], { name: `${name}_add` }), { name: `${name}_out` });
}

/**
 * A 3x3 'same' convolution with its ReLU, then a batch norm: the unit `best` is made of. Its moving
 * statistics follow the batches faster than Keras's default (0.99), as PyTorch's do (0.9 here =
 * PyTorch's 0.1): a run of ~20 epochs has too few steps to forget the initial statistics otherwise.
 */
function convBn(g: GraphBuilder, x: Node, name: string, filters: number): Node {
  return g.batchNorm(g.conv2d(x, { name: `${name}_conv`, filters, padding: 'same', activation: 'relu' }), { name: `${name}_bn`, momentum: 0.9 });
}

/**
 * `best`: the ResNet-9 of Myrtle.ai's fast CIFAR-10 training (Page, 2018) at half width, for 28x28
 * grey images. Each unit is conv (ReLU inside, as in the article's Keras models) then batch norm,
 * which the native backend runs fused; the last 3x3 map is max-pooled whole (a native pooling, where
 * a global average would be a generic reduction); a bias-less classifier's logits are scaled by 1/8.
 */
const LOGIT_SCALE = 0.125;

/**
 * ResNet-9 with `width` channels in its first layer, doubling at each pooling stage as Page's does
 * (his is 64 wide; `best` is half that). Wider variants cost about (width / 32)^2 times `best`'s
 * work: teachers for distillation, not defaults.
 */
function resnet9(width: number): (x: Node, g: GraphBuilder) => Node {
  return (x, g) => {
    const prep = convBn(g, x, 'prep', width);
    const l1 = g.maxPool(convBn(g, prep, 'layer1', 2 * width), { name: 'layer1_pool' }); // 14x14
    const r1 = g.add([l1, convBn(g, convBn(g, l1, 'res1a', 2 * width), 'res1b', 2 * width)], { name: 'res1_add' });
    const l2 = g.maxPool(convBn(g, r1, 'layer2', 4 * width), { name: 'layer2_pool' }); // 7x7
    const l3 = g.maxPool(convBn(g, l2, 'layer3', 8 * width), { name: 'layer3_pool' }); // 3x3
    const r3 = g.add([l3, convBn(g, convBn(g, l3, 'res3a', 8 * width), 'res3b', 8 * width)], { name: 'res3_add' });
    const pooled = g.flatten(g.maxPool(r3, { name: 'pool', size: 3 }), { name: 'flatten' });
    // Page's logit scale: without it the un-normalised classifier diverges at SGD's learning rates.
    const logits = g.scale(g.dense(pooled, { name: 'classifier', units: CLASS_NAMES.length, useBias: false }), LOGIT_SCALE, { name: 'logit_scale' });
    return g.activation(logits, 'softmax', { name: 'softmax' });
  };
}

/** The article's head on frozen features: Dense 512 relu -> Dropout 0.5 -> Dense 10 softmax on the flattened map. */
const TRANSFER_HEAD: LayerSpec[] = [{ type: 'flatten' }, { type: 'dense', units: 512 }, { type: 'dropout', rate: 0.5 }, softmaxOut];

/**
 * Where Tiny Darknet (ml5's ImageNet classifier in TF.js format) is found when --backbone is not
 * given: $FASHION_CNN_DARKNET, else the shared folder beside this project's checkout.
 */
export const DARKNET_ENV = 'FASHION_CNN_DARKNET';
export function darknetDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env[DARKNET_ENV]) return path.resolve(env[DARKNET_ENV] as string);
  return path.join(packageRoot(), '..', 'shared', 'pretrained', 'darknettiny');
}

export const MODEL_SPECS: readonly ModelSpec[] = [
  {
    kind: 'layers',
    name: 'cnn1',
    title: '1 convolutional layer',
    input: FASHION_SHAPE,
    layers: [
      { type: 'conv2d', filters: 32 },
      { type: 'maxPool', size: 2 },
      { type: 'dropout', rate: 0.2 },
      { type: 'flatten' },
      { type: 'dense', units: 128 },
      softmaxOut,
    ],
    article: {
      params: 693_962,
      phase1: { loss: 0.2485, acc: 0.9104, seconds: 329 },
      phase2: { loss: 0.221, acc: 0.9229, seconds: 1722 },
    },
  },
  {
    kind: 'layers',
    name: 'cnn3',
    title: '3 convolutional layers',
    input: FASHION_SHAPE,
    layers: [
      { type: 'conv2d', filters: 32 },
      { type: 'maxPool', size: 2 },
      { type: 'dropout', rate: 0.25 },
      { type: 'conv2d', filters: 64 },
      { type: 'maxPool', size: 2 },
      { type: 'dropout', rate: 0.25 },
      { type: 'conv2d', filters: 128 },
      { type: 'dropout', rate: 0.4 },
      { type: 'flatten' },
      { type: 'dense', units: 128 },
      { type: 'dropout', rate: 0.3 },
      softmaxOut,
    ],
    article: {
      params: 241_546,
      phase1: { loss: 0.2496, acc: 0.9079, seconds: 689 },
      phase2: { loss: 0.2291, acc: 0.9117, seconds: 3383 },
    },
  },
  {
    kind: 'layers',
    name: 'cnn4',
    title: '4 convolutional layers with batch normalisation',
    input: FASHION_SHAPE,
    layers: [
      { type: 'conv2d', filters: 32 },
      { type: 'batchNorm' },
      { type: 'conv2d', filters: 32 },
      { type: 'batchNorm' },
      { type: 'maxPool', size: 2 },
      { type: 'dropout', rate: 0.25 },
      { type: 'conv2d', filters: 64 },
      { type: 'batchNorm' },
      { type: 'dropout', rate: 0.25 },
      { type: 'conv2d', filters: 128 },
      { type: 'batchNorm' },
      { type: 'maxPool', size: 2 },
      { type: 'dropout', rate: 0.25 },
      { type: 'flatten' },
      { type: 'dense', units: 512 },
      { type: 'batchNorm' },
      { type: 'dropout', rate: 0.5 },
      { type: 'dense', units: 128 },
      { type: 'batchNorm' },
      { type: 'dropout', rate: 0.5 },
      softmaxOut,
    ],
    article: {
      params: 1_221_546,
      phase1: { loss: 0.2657, acc: 0.9052, seconds: 3615 },
      phase2: { loss: 0.1777, acc: 0.9352, seconds: 16699 },
    },
  },
  {
    kind: 'graph',
    name: 'best',
    title: 'ResNet-9 at half width (residual, batch norm): the most accurate model here',
    input: FASHION_SHAPE,
    graph: resnet9(32),
  },
  {
    kind: 'graph',
    name: 'best-wide',
    title: 'ResNet-9 at full width: best with twice the channels, 4x its work; a teacher for distillation',
    input: FASHION_SHAPE,
    graph: resnet9(64),
  },
  {
    kind: 'graph',
    name: 'resnet-mini',
    title: 'demo: a small residual network (functional graph, not from the article)',
    input: FASHION_SHAPE,
    graph: (x, g) => {
      const stem = g.relu(g.batchNorm(g.conv2d(x, { name: 'stem_conv', filters: 16, padding: 'same', useBias: false }), { name: 'stem_bn' }), { name: 'stem_relu' });
      const b1 = residualBlock(g, stem, 'block1', 16);
      const b2 = residualBlock(g, b1, 'block2', 32, 2);
      const features = g.globalAveragePooling(b2, { name: 'pool' });
      return g.dense(features, { name: 'classifier', units: CLASS_NAMES.length, activation: 'softmax' });
    },
  },
  {
    kind: 'transfer',
    name: 'vgg19',
    title: 'VGG-19 pretrained on ImageNet, frozen, with a dense head (the article\'s fourth model, preprocessed correctly)',
    input: FASHION_SHAPE,
    // The article resized to 150x150; 48 (--input-size) keeps the features cheap: 1x1x512 after block5_pool.
    backbone: { source: 'vgg19', inputSize: 48, weights: 'imagenet', preprocess: 'caffe' },
    head: TRANSFER_HEAD,
    article: { params: 24_224_330, phase1: { loss: 0.6238, acc: 0.7664, seconds: 398 + 150 } },
  },
  {
    kind: 'transfer',
    name: 'darknet-transfer',
    title: 'Tiny Darknet pretrained on ImageNet, frozen, average-pooled, with a dense head',
    input: FASHION_SHAPE,
    // Its last 512-channel layer (before the 1x1 convolutions that make ImageNet's classes), averaged over the image.
    get backbone() {
      return { source: 'tfjs' as const, path: darknetDir(), layer: 'leaky_re_lu_14', pool: 'avg' as const, inputSize: 112, preprocess: 'unit' as const };
    },
    head: TRANSFER_HEAD,
  },
  {
    kind: 'transfer',
    name: 'transfer',
    title: 'any TF.js layers model as a frozen backbone (--backbone DIR, --backbone-layer NAME), with a dense head',
    input: FASHION_SHAPE,
    backbone: { source: 'tfjs', path: '', pool: 'avg' },
    head: TRANSFER_HEAD,
  },
];

/** Models named by the article (or the CLI contract) that a later stage will add. */
export const PLANNED_MODELS: Readonly<Record<string, string>> = {};

export const MODEL_OPTION_FLAGS: Readonly<Record<keyof ModelOptions, string>> = {
  inputSize: '--input-size',
  weights: '--weights',
  backbone: '--backbone',
  backboneLayer: '--backbone-layer',
  fineTune: '--fine-tune',
};

/**
 * The spec with a run's model options applied (see ModelOptions): a transfer model's input size,
 * weights and backbone. Options that the model does not take are an error, not ignored.
 */
export function applyModelOptions(spec: ModelSpec, o: ModelOptions): ModelSpec {
  const given = (Object.keys(o) as (keyof ModelOptions)[]).filter((k) => o[k] !== undefined);
  if (spec.kind !== 'transfer') {
    if (given.length) throw new UserError(`${given.map((k) => MODEL_OPTION_FLAGS[k]).join(', ')}: for transfer models only (vgg19, darknet-transfer, transfer); ${spec.name} is a ${spec.kind} model`);
    return spec;
  }
  const b = { ...spec.backbone };
  if (o.inputSize !== undefined) b.inputSize = o.inputSize;
  if (o.fineTune !== undefined) b.fineTune = o.fineTune;
  if (b.source === 'vgg19') {
    if (o.backbone !== undefined || o.backboneLayer !== undefined) throw new UserError(`${spec.name}: --backbone and --backbone-layer are for TF.js backbones; vgg19 builds its own (use --weights for its weights)`);
    if (o.weights !== undefined) b.weights = o.weights;
  } else {
    if (o.weights !== undefined && o.weights !== 'random' && o.weights !== 'pretrained') throw new UserError(`${spec.name}: --weights is "pretrained" or "random" for a TF.js backbone (its weights are in its folder), not "${o.weights}"`);
    if (o.weights !== undefined) b.weights = o.weights as 'pretrained' | 'random';
    if (o.backbone !== undefined) b.path = o.backbone;
    if (o.backboneLayer !== undefined) b.layer = o.backboneLayer;
    if (!b.path) throw new UserError(`${spec.name}: give the backbone with --backbone DIR (a TF.js layers model: model.json and its weight files)`);
  }
  return { ...spec, backbone: b } as TransferSpec;
}

export function modelNames(): string[] {
  return MODEL_SPECS.map((m) => m.name);
}

export function findModelSpec(name: string): ModelSpec | undefined {
  return MODEL_SPECS.find((m) => m.name === name);
}
