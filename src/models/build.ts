/** Building a model from its spec, by kind. */
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../util/errors.js';
import { GraphBuilder } from './graph.js';
import { toLayer } from './layers.js';
import { findModelSpec, modelNames, PLANNED_MODELS } from './registry.js';
import type { GraphSpec, LayersSpec, ModelSpec } from './spec.js';
import { buildTransfer } from './transfer.js';

/** Looks a model up by name, with a one-line error that lists the choices. */
export function requireModelSpec(name: string): ModelSpec {
  const spec = findModelSpec(name);
  if (spec) return spec;
  if (PLANNED_MODELS[name]) throw new UserError(`${name}: ${PLANNED_MODELS[name]}`);
  throw new UserError(`unknown model "${name}" (choose one of ${modelNames().join(', ')})`);
}

/** A 'layers' model: a tfl.Sequential of the listed layers, created in list order. */
export function buildSequential(spec: LayersSpec): tfl.Sequential {
  const model = tfl.sequential({ name: spec.name });
  spec.layers.forEach((l, i) => model.add(toLayer(l, i === 0 ? { inputShape: spec.input } : {})));
  return model;
}

/** A 'graph' model: the spec's graph function applied to one input node. */
export function buildGraph(spec: GraphSpec): tfl.LayersModel {
  const input = tfl.input({ shape: [...spec.input] });
  const output = spec.graph(input, new GraphBuilder());
  return tfl.model({ inputs: input, outputs: output, name: spec.name });
}

/**
 * Builds a fresh, uncompiled model. Weight initialisation draws from Math.random (see util/rng):
 * 'layers' and 'graph' models are built before this function first awaits, so they draw exactly
 * as a synchronous build would; a transfer model's head draws after its backbone has loaded.
 */
export async function buildModel(spec: ModelSpec): Promise<tfl.LayersModel> {
  switch (spec.kind) {
    case 'layers':
      return buildSequential(spec);
    case 'graph':
      return buildGraph(spec);
    case 'transfer':
      return buildTransfer(spec);
  }
}

export interface ParamCounts {
  total: number;
  trainable: number;
  nonTrainable: number;
}

export function countParams(model: tfl.LayersModel): ParamCounts {
  const size = (ws: tfl.LayerVariable[]) => ws.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  const trainable = size(model.trainableWeights);
  const nonTrainable = size(model.nonTrainableWeights);
  return { total: trainable + nonTrainable, trainable, nonTrainable };
}
