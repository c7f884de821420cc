/**
 * Transfer models: a pretrained backbone, loaded from a TF.js layers-format folder, cut at the
 * layer whose output are the features and frozen, between an input adapter (the data's images
 * resized and coloured to what the backbone takes) and a head trained on Fashion-MNIST.
 *
 *   data images [28, 28, 1] -> ImageAdapter -> FrozenBackbone (nested model) -> head -> [10]
 */
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError, errorMessage } from '../util/errors.js';
import { FrozenBackbone, ImageAdapter } from './custom-layers.js';
import { GraphBuilder } from './graph.js';
import { loadModel } from './io.js';
import { toLayer } from './layers.js';
import type { BackboneSpec, TransferSpec } from './spec.js';

/** The name of the backbone layer inside a transfer model. */
export const BACKBONE_LAYER = 'backbone';

export interface LoadedBackbone {
  model: FrozenBackbone;
  /** [height, width, channels] of the images it takes. */
  input: [number, number, number];
}

/** The folder a backbone is read from (relative paths from the working directory). */
export function backboneDir(spec: BackboneSpec): string {
  return path.resolve(spec.path);
}

/** Loads a backbone, cuts it at `spec.layer` and freezes it. */
export async function loadBackbone(spec: BackboneSpec): Promise<LoadedBackbone> {
  const dir = backboneDir(spec);
  if (spec.source !== 'tfjs') throw new UserError(`backbone ${dir}: unknown source "${String(spec.source)}" (only 'tfjs' layers models can be loaded)`);
  if (spec.trainable !== undefined && spec.trainable !== false) throw new UserError(`backbone ${dir}: only frozen backbones are supported (trainable: false)`);
  let full: tfl.LayersModel;
  try {
    full = await loadModel(dir);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`backbone: ${e.message}`);
    throw new UserError(`cannot load the backbone in ${dir}: ${errorMessage(e).split('\n')[0]}`);
  }
  if (full.inputs.length !== 1) throw new UserError(`backbone ${dir}: takes ${full.inputs.length} inputs, not one batch of images`);
  const [, h, w, c] = full.inputs[0].shape;
  if (full.inputs[0].shape.length !== 4 || c == null) throw new UserError(`backbone ${dir}: takes input of shape ${JSON.stringify(full.inputs[0].shape)}, not a batch of images`);

  let size: [number, number];
  if (h != null && w != null) {
    if (spec.inputSize !== undefined && (spec.inputSize !== h || spec.inputSize !== w)) {
      throw new UserError(`backbone ${dir}: inputSize ${spec.inputSize} does not match the ${h}x${w} images the model takes`);
    }
    size = [h, w];
  } else if (spec.inputSize !== undefined) {
    size = [spec.inputSize, spec.inputSize];
  } else {
    throw new UserError(`backbone ${dir}: the model leaves its image size open; set backbone.inputSize`);
  }

  let features: tfl.SymbolicTensor;
  if (spec.layer !== undefined) {
    const layer = full.layers.find((l) => l.name === spec.layer);
    if (!layer) throw new UserError(`backbone ${dir}: no layer "${spec.layer}" (layers: ${full.layers.map((l) => l.name).join(', ')})`);
    if (layer.inboundNodes.length !== 1) throw new UserError(`backbone ${dir}: layer "${spec.layer}" is used ${layer.inboundNodes.length} times; choose a layer used once`);
    features = layer.output as tfl.SymbolicTensor;
  } else {
    if (full.outputs.length !== 1) throw new UserError(`backbone ${dir}: has ${full.outputs.length} outputs; name the feature layer (backbone.layer)`);
    features = full.outputs[0];
  }
  const model = new FrozenBackbone({ inputs: full.inputs, outputs: features, name: BACKBONE_LAYER });
  // The layers past the cut belong to no model any more: free their weights.
  const kept = new Set(model.layers);
  for (const l of full.layers) if (!kept.has(l)) l.weights.forEach((v) => v.dispose());
  return { model, input: [size[0], size[1], c] };
}

/** Builds a transfer model (see the file comment). Its head's weights are drawn from Math.random after the backbone has loaded. */
export async function buildTransfer(spec: TransferSpec): Promise<tfl.LayersModel> {
  const backbone = await loadBackbone(spec.backbone);
  const g = new GraphBuilder();
  const input = tfl.input({ shape: [...spec.input] });
  let x = input;
  const [h, w, c] = backbone.input;
  if (spec.input[0] !== h || spec.input[1] !== w || spec.input[2] !== c) {
    if (spec.input[2] !== c && spec.input[2] !== 1) {
      throw new UserError(`${spec.name}: cannot feed ${spec.input[2]}-channel images to a backbone that takes ${c} channels (only grey can be repeated)`);
    }
    x = g.layer(new ImageAdapter({ name: 'adapter', height: h, width: w, channels: c }), x);
  }
  x = g.layer(backbone.model, x);
  spec.head.forEach((l, i) => {
    x = g.layer(toLayer(l, { name: `head_${i + 1}_${l.type}` }), x);
  });
  const model = tfl.model({ inputs: input, outputs: x, name: spec.name });
  // Saving and loading match weights by name, so a backbone layer named like a head layer would break a saved model.
  const seen = new Set<string>();
  for (const v of model.weights) {
    if (seen.has(v.originalName)) throw new UserError(`${spec.name}: two weights are named ${v.originalName} (rename the backbone's layer or the head's)`);
    seen.add(v.originalName);
  }
  return model;
}
