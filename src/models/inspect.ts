/**
 * Finding one's way in a model's graph, whatever its kind: a tfl.Sequential, a functional graph
 * with branches, or a model with a nested model inside (a transfer backbone is a LayersModel used
 * as one layer).
 *
 * A layer can belong to several graphs: a nested model's layers are wired in the nested model's
 * own graph, and the nested model itself has one node for its inner graph and one for each time it
 * is applied. So "the output of layer L" only means something within one model; these helpers
 * pick the node of L that belongs to the given model.
 */
import * as tfl from '@tensorflow/tfjs-layers';

type Layer = tfl.layers.Layer;

/** A layer that is itself a model (its layers are not in the outer model's `layers`). */
export function isNestedModel(layer: Layer): layer is tfl.LayersModel {
  return layer instanceof tfl.LayersModel;
}

/** The layers of `model`'s own graph, including its input layers (a Sequential does not list them). */
function members(model: tfl.LayersModel): Set<Layer> {
  return new Set<Layer>([...model.layers, ...model.inputs.map((t) => t.sourceLayer)]);
}

/**
 * The index of the node through which `layer` takes part in `model`'s graph: the node whose
 * inbound layers are all in the model. A layer applied several times in one model gets its first
 * such node.
 */
export function nodeIndexIn(model: tfl.LayersModel, layer: Layer): number {
  const inModel = members(model);
  const i = layer.inboundNodes.findIndex((n) => n.inboundLayers.length > 0 && n.inboundLayers.every((l) => inModel.has(l)));
  if (i >= 0) return i;
  if (inModel.has(layer) && layer.inboundNodes.length === 1) return 0; // an input layer
  throw new Error(`layer ${layer.name} is not part of the graph of ${model.name}`);
}

function single(t: tfl.SymbolicTensor | tfl.SymbolicTensor[], what: string): tfl.SymbolicTensor {
  if (Array.isArray(t)) {
    if (t.length !== 1) throw new Error(`${what}: expected one tensor, got ${t.length}`);
    return t[0];
  }
  return t;
}

/** The symbolic output of `layer` in `model`'s graph (a single tensor). */
export function layerOutputIn(model: tfl.LayersModel, layer: Layer): tfl.SymbolicTensor {
  return single(layer.getOutputAt(nodeIndexIn(model, layer)), `output of ${layer.name}`);
}

/** The symbolic input of `layer` in `model`'s graph (a single tensor). */
export function layerInputIn(model: tfl.LayersModel, layer: Layer): tfl.SymbolicTensor {
  return single(layer.getInputAt(nodeIndexIn(model, layer)), `input of ${layer.name}`);
}

/** The layers whose outputs `layer` takes in `model`'s graph (none for an input layer). */
export function inboundLayersIn(model: tfl.LayersModel, layer: Layer): Layer[] {
  return layer.inboundNodes[nodeIndexIn(model, layer)].inboundLayers;
}

/** Layer classes that only apply a function to the classifier's output (a separate softmax, best's 1/8 logit scale). */
const OUTPUT_ACTIVATIONS = new Set(['Activation', 'Softmax', 'Rescaling']);

/**
 * The layer feeding the final classifier: the output layer's inbound layer (after stepping back
 * over a separate output activation or scaling). For a Sequential that is the second-to-last layer; for a
 * functional or transfer model it is whatever the last Dense takes, wherever it is in `layers`.
 * A model whose classifier takes the input directly gives the classifier itself.
 */
export function classifierInputLayer(model: tfl.LayersModel): Layer {
  if (model.outputs.length !== 1) throw new Error(`${model.name} has ${model.outputs.length} outputs, not one classifier`);
  let classifier = model.outputs[0].sourceLayer;
  for (;;) {
    const inbound = inboundLayersIn(model, classifier);
    if (inbound.length !== 1 || !OUTPUT_ACTIVATIONS.has(classifier.getClassName())) break;
    classifier = inbound[0];
  }
  const inbound = inboundLayersIn(model, classifier);
  if (inbound.length === 1 && inbound[0].getClassName() !== 'InputLayer') return inbound[0];
  return classifier;
}

export interface LayerVisit {
  layer: Layer;
  /** The model whose graph the layer is in. */
  model: tfl.LayersModel;
  /** 0 for the model's own layers, 1 for the layers of a model nested in it, ... */
  depth: number;
  /** Names of the enclosing nested models, outermost first. */
  path: string[];
}

/** Every layer in graph order, each nested model followed by its own layers (depth-first). */
export function walkLayers(model: tfl.LayersModel): LayerVisit[] {
  const out: LayerVisit[] = [];
  const visit = (m: tfl.LayersModel, depth: number, path: string[]) => {
    for (const layer of m.layers) {
      out.push({ layer, model: m, depth, path });
      if (isNestedModel(layer)) visit(layer, depth + 1, [...path, layer.name]);
    }
  };
  visit(model, 0, []);
  return out;
}
