/**
 * Transfer models: a pretrained backbone, cut at the layer whose output are the features and
 * frozen, between an input adapter (the data's images resized, coloured and scaled to what the
 * backbone takes) and a head trained on Fashion-MNIST:
 *
 *   data images [28, 28, 1] -> ImageAdapter -> FrozenBackbone (nested model) [-> global pool] -> head -> [10]
 *
 * Everything before the head is the *feature extractor*: it has no trained weights, so its output
 * for an image never changes and can be computed once (src/features). The backbone comes from a
 * TF.js layers folder ('tfjs') or is Keras's VGG-19 built here with Keras's weights ('vgg19').
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ImageShape } from '../data/types.js';
import { UserError, errorMessage } from '../util/errors.js';
import { FrozenBackbone, ImageAdapter } from './custom-layers.js';
import { GraphBuilder } from './graph.js';
import { fileHandler } from './io.js';
import { toLayer } from './layers.js';
import type { BackboneSpec, LayersSpec, TfjsBackbone, TransferSpec, Vgg19Backbone } from './spec.js';
import { buildVgg19Base, checkVgg19InputSize } from './vgg19.js';
import { findVgg19Weights, loadVgg19File } from './vgg19-weights.js';

/** The name of the backbone layer inside a transfer model. */
export const BACKBONE_LAYER = 'backbone';

export interface LoadedBackbone {
  model: tfl.LayersModel;
  /** [height, width, channels] of the images it takes. */
  input: [number, number, number];
  /**
   * What fixes its weights, for the feature cache's key: a digest of the weight files, or
   * 'random' (then the caller's seed fixes them).
   */
  weightsId: string;
}

/** The folder a TF.js backbone is read from (relative paths from the working directory; a model.json path names its folder). */
export function backboneDir(spec: TfjsBackbone): string {
  const p = path.resolve(spec.path);
  return path.basename(p) === 'model.json' ? path.dirname(p) : p;
}

type Topology = { class_name?: string; config?: { layers?: { config?: Record<string, unknown> }[] } } & Record<string, unknown>;

/** The topology with every fixed image input set to `size` x `size` (a fully convolutional network takes any size). */
function withInputSize(topology: Topology, size: number): Topology {
  const copy = structuredClone(topology) as Topology & { model_config?: Topology };
  const model = copy.model_config ?? copy;
  for (const layer of model.config?.layers ?? []) {
    const shape = layer.config?.batch_input_shape;
    if (Array.isArray(shape) && shape.length === 4) layer.config!.batch_input_shape = [shape[0], size, size, shape[3]];
  }
  return copy;
}

/** Loads a TF.js layers model as a backbone: its saved weights or (weights 'random') fresh ones from Math.random. */
async function loadTfjsBackbone(spec: TfjsBackbone): Promise<{ full: tfl.LayersModel; weightsId: string }> {
  const dir = backboneDir(spec);
  const handler = fileHandler(dir);
  let artifacts: tfc.io.ModelArtifacts;
  try {
    artifacts = await handler.load!();
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`backbone: ${e.message}`);
    throw e;
  }
  const topology = spec.inputSize === undefined ? (artifacts.modelTopology as Topology) : withInputSize(artifacts.modelTopology as Topology, spec.inputSize);
  const random = spec.weights === 'random';
  const weightsId = random ? `random-${digest(JSON.stringify(artifacts.modelTopology))}` : digest(JSON.stringify(artifacts.modelTopology), new Uint8Array(artifacts.weightData as ArrayBuffer));
  const modified: tfc.io.ModelArtifacts = random ? { modelTopology: topology } : { ...artifacts, modelTopology: topology };
  try {
    return { full: await tfl.loadLayersModel({ load: async () => modified }), weightsId };
  } catch (e) {
    throw new UserError(`cannot load the backbone in ${dir}: ${errorMessage(e).split('\n')[0]}`);
  }
}

async function loadVgg19Backbone(spec: Vgg19Backbone, log: (line: string) => void): Promise<{ full: tfl.LayersModel; weightsId: string }> {
  const weights = spec.weights ?? 'imagenet';
  if (weights === 'random') return { full: buildVgg19Base(spec.inputSize ?? 48), weightsId: 'random' };
  // The file first (found, or downloaded and checked): a bad one fails before 20 million weights are drawn.
  checkVgg19InputSize(spec.inputSize ?? 48);
  const file = await findVgg19Weights(weights, log);
  const full = buildVgg19Base(spec.inputSize ?? 48);
  try {
    await loadVgg19File(full, file, log);
    return { full, weightsId: digest(await fs.readFile(file)) };
  } catch (e) {
    full.dispose();
    throw e;
  }
}

function digest(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 16);
}

type Pair = [number, number];
const pair = (v: unknown, fallback: number): Pair => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : typeof v === 'number' ? [v, v] : [fallback, fallback]);

/** The input span (per axis) a layer needs for `out` pixels of output, as far as its downsampling goes. */
function inputSpan(layer: tfl.layers.Layer, out: Pair): Pair {
  const c = layer.getConfig() as Record<string, unknown>;
  const window = c.kernelSize ?? c.poolSize;
  if (window !== undefined) {
    const k = pair(window, 1);
    const s = pair(c.strides ?? c.poolSize, 1);
    const d = pair(c.dilationRate, 1);
    // 'same' pads: `out` steps of the stride, each from at least one real pixel. 'valid': the window must fit too.
    return out.map((o, i) => (c.padding === 'valid' ? (o - 1) * s[i] + (k[i] - 1) * d[i] + 1 : o * s[i])) as Pair;
  }
  if (c.size !== undefined && layer.getClassName() === 'UpSampling2D') {
    const u = pair(c.size, 1);
    return out.map((o, i) => Math.ceil(o / u[i])) as Pair;
  }
  return out;
}

/**
 * The smallest square image a backbone's features need, walking back from the feature tensor to
 * the input: each convolution or pooling multiplies what its output needs by its stride (and a
 * 'valid' window adds its extent). VGG-19's five 2x2 poolings give 32, Keras's minimum for it;
 * Tiny Darknet's four up to leaky_re_lu_14 give 16. Smaller images make features of padding.
 */
export function minimumInputSize(features: tfl.SymbolicTensor): number {
  const needs = new Map<number, Pair>();
  let most: Pair = [1, 1];
  const visit = (t: tfl.SymbolicTensor, need: Pair) => {
    const seen = needs.get(t.id);
    if (seen && seen[0] >= need[0] && seen[1] >= need[1]) return;
    const merged: Pair = seen ? [Math.max(seen[0], need[0]), Math.max(seen[1], need[1])] : need;
    needs.set(t.id, merged);
    if (t.inputs.length === 0) {
      most = [Math.max(most[0], merged[0]), Math.max(most[1], merged[1])];
      return;
    }
    const span = inputSpan(t.sourceLayer, merged);
    for (const x of t.inputs) visit(x, span);
  };
  visit(features, [1, 1]);
  return Math.max(...most);
}

/** Loads a backbone, cuts it at `spec.layer` and freezes it. */
export async function loadBackbone(spec: BackboneSpec, log: (line: string) => void = () => {}): Promise<LoadedBackbone> {
  if (spec.trainable !== undefined && spec.trainable !== false) throw new UserError('only frozen backbones are supported (trainable: false)');
  const where = spec.source === 'tfjs' ? backboneDir(spec) : 'vgg19';
  let loaded: { full: tfl.LayersModel; weightsId: string };
  switch (spec.source) {
    case 'tfjs':
      loaded = await loadTfjsBackbone(spec);
      break;
    case 'vgg19':
      loaded = await loadVgg19Backbone(spec, log);
      break;
    default:
      throw new UserError(`backbone: unknown source "${String((spec as { source: unknown }).source)}" (tfjs or vgg19)`);
  }
  const { full } = loaded;
  try {
    if (full.inputs.length !== 1) throw new UserError(`backbone ${where}: takes ${full.inputs.length} inputs, not one batch of images`);
    const [, h, w, c] = full.inputs[0].shape;
    if (full.inputs[0].shape.length !== 4 || c == null) throw new UserError(`backbone ${where}: takes input of shape ${JSON.stringify(full.inputs[0].shape)}, not a batch of images`);
    if (h == null || w == null) throw new UserError(`backbone ${where}: the model leaves its image size open; set its input size`);

    let features: tfl.SymbolicTensor;
    if (spec.layer !== undefined) {
      const layer = full.layers.find((l) => l.name === spec.layer);
      if (!layer) throw new UserError(`backbone ${where}: no layer "${spec.layer}" (layers: ${full.layers.map((l) => l.name).join(', ')})`);
      if (layer.inboundNodes.length !== 1) throw new UserError(`backbone ${where}: layer "${spec.layer}" is used ${layer.inboundNodes.length} times; choose a layer used once`);
      features = layer.output as tfl.SymbolicTensor;
    } else {
      if (full.outputs.length !== 1) throw new UserError(`backbone ${where}: has ${full.outputs.length} outputs; name the feature layer`);
      features = full.outputs[0];
    }
    const minimum = minimumInputSize(features);
    if (Math.min(h, w) < minimum) {
      const what = spec.inputSize !== undefined ? `--input-size ${spec.inputSize}` : `its input of ${h}x${w}`;
      throw new UserError(`backbone ${where}: ${what} is too small: its downsampling up to layer "${features.sourceLayer.name}" needs images of at least ${minimum} pixels`);
    }
    const model = spec.fineTune === undefined ? new FrozenBackbone({ inputs: full.inputs, outputs: features, name: BACKBONE_LAYER }) : fineTuned(full, features, spec.fineTune, where);
    // The layers past the cut belong to no model any more: free their weights.
    const kept = new Set(model.layers);
    for (const l of full.layers) if (!kept.has(l)) l.weights.forEach((v) => v.dispose());
    return { model, input: [h, w, c], weightsId: loaded.weightsId };
  } catch (e) {
    full.dispose();
    throw e;
  }
}

/**
 * A backbone of which only the layers named `prefix...` train (Keras's fine-tuning: set
 * `trainable` per layer). It is a plain nested model: in training mode its layers run as in
 * training, which matters for batch norm and dropout only (VGG-19 has neither).
 */
function fineTuned(full: tfl.LayersModel, features: tfl.SymbolicTensor, prefix: string, where: string): tfl.LayersModel {
  const model = tfl.model({ inputs: full.inputs, outputs: features, name: BACKBONE_LAYER });
  const tuned = model.layers.filter((l) => l.name.startsWith(prefix) && l.weights.length > 0);
  if (tuned.length === 0) throw new UserError(`backbone ${where}: --fine-tune ${prefix} names no layer with weights (layers: ${model.layers.filter((l) => l.weights.length > 0).map((l) => l.name).join(', ')})`);
  for (const l of model.layers) l.trainable = l.name.startsWith(prefix);
  return model;
}

export interface FeatureExtractor {
  /** Data images in, features out: everything of the transfer model before its head. */
  model: tfl.LayersModel;
  /** The shape of one image's features (a 1x1 map when pooled). */
  featureShape: ImageShape;
  weightsId: string;
}

/** The adapter, the frozen backbone and the optional global pooling, applied to a data-image input node. */
async function applyExtractor(spec: TransferSpec, input: tfl.SymbolicTensor, log: (line: string) => void): Promise<{ features: tfl.SymbolicTensor; weightsId: string }> {
  const backbone = await loadBackbone(spec.backbone, log);
  const g = new GraphBuilder();
  let x = input;
  const [h, w, c] = backbone.input;
  const preprocess = spec.backbone.preprocess ?? 'unit';
  if (spec.input[0] !== h || spec.input[1] !== w || spec.input[2] !== c || preprocess !== 'unit') {
    if (spec.input[2] !== c && spec.input[2] !== 1) {
      throw new UserError(`${spec.name}: cannot feed ${spec.input[2]}-channel images to a backbone that takes ${c} channels (only grey can be repeated)`);
    }
    x = g.layer(new ImageAdapter({ name: 'adapter', height: h, width: w, channels: c, preprocess }), x);
  }
  x = g.layer(backbone.model, x);
  if (spec.backbone.pool && x.shape.length === 4) {
    const pool = spec.backbone.pool === 'avg' ? tfl.layers.globalAveragePooling2d({ name: 'feature_pool' }) : tfl.layers.globalMaxPooling2d({ name: 'feature_pool' });
    x = g.layer(pool, x);
  }
  if (x.shape.length === 2) {
    // Kept as a 1x1 map (a vector from pooling, or a backbone whose output is one), so that the head always starts from a feature map.
    x = g.layer(tfl.layers.reshape({ name: 'feature_map', targetShape: [1, 1, x.shape[1] as number] }), x);
  } else if (x.shape.length !== 4) {
    throw new UserError(`${spec.name}: the backbone's features have shape ${JSON.stringify(x.shape)}; expected a feature map [batch, height, width, channels] or a vector [batch, n]`);
  }
  return { features: x, weightsId: backbone.weightsId };
}

/** The feature extractor alone (see the file comment). */
export async function buildExtractor(spec: TransferSpec, log: (line: string) => void = () => {}): Promise<FeatureExtractor> {
  const input = tfl.input({ shape: [...spec.input] });
  const { features, weightsId } = await applyExtractor(spec, input, log);
  const [, fh, fw, fc] = features.shape as number[];
  return { model: tfl.model({ inputs: input, outputs: features, name: `${spec.name}_features` }), featureShape: [fh, fw, fc], weightsId };
}

const headLayerName = (spec: TransferSpec, i: number) => `head_${i + 1}_${spec.head[i].type}`;

/** The head alone, as a 'layers' model over the extractor's features: what a run on cached features trains. */
export function headSpec(spec: TransferSpec, featureShape: ImageShape): LayersSpec {
  return { kind: 'layers', name: spec.name, title: `${spec.title} (head)`, input: featureShape, layers: spec.head };
}

/** Builds a transfer model (see the file comment). Its head's weights are drawn from Math.random after the backbone has loaded. */
export async function buildTransfer(spec: TransferSpec, log: (line: string) => void = () => {}): Promise<tfl.LayersModel> {
  const g = new GraphBuilder();
  const input = tfl.input({ shape: [...spec.input] });
  let { features: x } = await applyExtractor(spec, input, log);
  spec.head.forEach((l, i) => {
    x = g.layer(toLayer(l, { name: headLayerName(spec, i) }), x);
  });
  const model = tfl.model({ inputs: input, outputs: x, name: spec.name });
  // Saving and loading match weights by name, so a backbone layer named like a head layer would break a saved model.
  const seen = new Set<string>();
  for (const v of model.weights) {
    if (seen.has(v.originalName)) {
      model.dispose();
      throw new UserError(`${spec.name}: two weights are named ${v.originalName} (rename the backbone's layer or the head's)`);
    }
    seen.add(v.originalName);
  }
  return model;
}

/** Sets the head layers of a whole transfer model from a head trained alone (headSpec), layer by layer. */
export function copyHeadWeights(spec: TransferSpec, head: tfl.LayersModel, full: tfl.LayersModel): void {
  if (head.layers.length !== spec.head.length) throw new Error(`${spec.name}: the head has ${head.layers.length} layers, the spec ${spec.head.length}`);
  spec.head.forEach((_, i) => full.getLayer(headLayerName(spec, i)).setWeights(head.layers[i].getWeights()));
}
