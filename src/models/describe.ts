/** A model's make-up as plain data: its layers (nested ones too), shapes and parameter counts. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ImageShape } from '../data/types.js';
import { UserError } from '../util/errors.js';
import { buildModel, countParams, type ParamCounts } from './build.js';
import { inboundLayersIn, walkLayers } from './inspect.js';
import { fileProblem, parseWeightsSource, type WeightsSource } from './keras-h5.js';
import type { ArticleFigures, ModelKind, ModelSpec } from './spec.js';
import { backboneDir } from './transfer.js';
import { localVgg19Weights, vgg19WeightsHelp } from './vgg19-weights.js';

export interface LayerRow {
  name: string;
  type: string;
  outputShape: (number | null)[] | (number | null)[][];
  /** All its weights (batch norm's moving statistics included). */
  params: number;
  /** The part of `params` that training changes (0 in a frozen backbone). */
  trainableParams: number;
  /** 0 for the model's own layers, 1 inside a nested model (a transfer backbone), ... */
  depth: number;
  /** The enclosing nested models' names, outermost first. */
  path: string[];
  /** The layers it takes its input from, in its own graph. */
  inputs: string[];
}

interface DescriptionBase {
  name: string;
  title: string;
  kind: ModelKind;
  input: ImageShape;
  article: ArticleFigures | null;
}

export type ModelDescription =
  | (DescriptionBase & { available: true; params: ParamCounts; layers: LayerRow[] })
  | (DescriptionBase & { available: false; reason: string });

const weightCount = (ws: readonly tfl.LayerVariable[]) => ws.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);

/** Every layer of a built model, nested models' layers right after the nested model. */
export function describeLayers(model: tfl.LayersModel): LayerRow[] {
  const frozen = new Set<string>(); // paths of nested models that are not trained
  return walkLayers(model).map(({ layer, model: owner, depth, path: where }) => {
    const key = [...where, layer.name].join('/');
    const inFrozen = where.some((_, i) => frozen.has(where.slice(0, i + 1).join('/')));
    if (!layer.trainable) frozen.add(key);
    return {
      name: layer.name,
      type: layer.getClassName(),
      outputShape: layer.outputShape as LayerRow['outputShape'],
      params: layer.countParams(),
      trainableParams: inFrozen || !layer.trainable ? 0 : weightCount(layer.trainableWeights),
      depth,
      path: where,
      inputs: inboundLayersIn(owner, layer).map((l) => l.name),
    };
  });
}

/**
 * Why a spec cannot be built here, or null: a transfer backbone or weights file that is not on
 * disk (vgg19's ImageNet weights included, although `train` can download them).
 */
export async function unavailableReason(spec: ModelSpec): Promise<string | null> {
  if (spec.kind !== 'transfer') return null;
  if (spec.backbone.source === 'vgg19') {
    const weights = spec.backbone.weights ?? 'imagenet';
    if (weights === 'random') return null;
    if (weights === 'imagenet') return (await localVgg19Weights()) ? null : vgg19WeightsHelp();
    let source: WeightsSource;
    try {
      source = parseWeightsSource(weights);
    } catch (e) {
      if (e instanceof UserError) return e.message;
      throw e;
    }
    return source.kind === 'url' ? null : fileProblem(source.file, 'weights file');
  }
  if (!spec.backbone.path) return 'needs --backbone DIR (a TF.js layers model)';
  const json = path.join(backboneDir(spec.backbone), 'model.json');
  try {
    await fs.access(json);
    return null;
  } catch {
    return `backbone not found: ${json} does not exist`;
  }
}

/**
 * Builds the model (on the current backend) to describe it, then disposes it. VGG-19 is described
 * with random weights: its make-up does not depend on them, and they may not be here.
 */
export async function describeModel(spec: ModelSpec): Promise<ModelDescription> {
  const base: DescriptionBase = { name: spec.name, title: spec.title, kind: spec.kind, input: spec.input, article: spec.article ?? null };
  const shape = spec.kind === 'transfer' && spec.backbone.source === 'vgg19' ? { ...spec, backbone: { ...spec.backbone, weights: 'random' } } : spec;
  const reason = await unavailableReason(shape);
  if (reason) return { ...base, available: false, reason };
  const model = await buildModel(shape);
  try {
    return { ...base, available: true, params: countParams(model), layers: describeLayers(model) };
  } finally {
    model.dispose();
  }
}
