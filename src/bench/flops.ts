/**
 * Floating-point operations per image of a model, counted from its layers: the multiply-adds of
 * its convolutions and dense layers (two FLOPs each), which is where the arithmetic is. Batch
 * norms, poolings, activations, additions and the optimizer are memory-bound passes of a few
 * operations per value and are not counted (as is usual when comparing with a machine's peak).
 *
 * A training step runs each such layer three times: forward, the gradient of its weights, and the
 * gradient of its input. The last is skipped where no trainable layer lies upstream (the first
 * convolution, reading the images), and the weight gradient for a frozen layer.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { inboundLayersIn, walkLayers } from '../models/inspect.js';

type Layer = tfl.layers.Layer;

export interface LayerFlops {
  name: string;
  kind: string;
  /** FLOPs per image of the forward pass. */
  forward: number;
  /** FLOPs per image of the backward pass (weight gradient and input gradient, as needed). */
  backward: number;
}

export interface ModelFlops {
  /** Forward pass, per image. */
  inference: number;
  /** Forward and backward passes of a training step, per image. */
  training: number;
  layers: LayerFlops[];
}

const dims = (shape: readonly (number | null)[]): number[] => shape.slice(1).map((d) => d ?? 1);
const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** Multiply-adds per image of a layer's forward pass, or null for a layer that is not counted. */
function multiplyAdds(layer: Layer): number | null {
  const kind = layer.getClassName();
  const outShape = layer.outputShape as (number | null)[];
  if (kind === 'Conv2D' || kind === 'DepthwiseConv2D') {
    const kernel = layer.getWeights(false).find((w) => w.rank === 4);
    if (!kernel) return null;
    const [kh, kw, inChannels, multiplierOrOut] = kernel.shape;
    const [oh, ow, oc] = dims(outShape);
    // Conv2D: each output value sums kh * kw * inChannels products. Depthwise: kh * kw.
    return kind === 'Conv2D' ? oh * ow * oc * kh * kw * inChannels : oh * ow * inChannels * multiplierOrOut * kh * kw;
  }
  if (kind === 'Dense') {
    const kernel = layer.getWeights(false).find((w) => w.rank === 2);
    if (!kernel) return null;
    // A dense layer on a rank > 2 input applies to every position.
    const [inputs, units] = kernel.shape;
    return product(dims(outShape).slice(0, -1)) * inputs * units;
  }
  return null;
}

/** Whether some layer upstream of `layer` (within `model`, nested models included) has trainable weights. */
function trainableUpstream(model: tfl.LayersModel, layer: Layer, memo: Map<Layer, boolean>): boolean {
  const known = memo.get(layer);
  if (known !== undefined) return known;
  memo.set(layer, false); // a cycle cannot happen in a model's graph; this only guards the recursion
  const found = inboundLayersIn(model, layer).some((p) => p.trainableWeights.length > 0 || trainableUpstream(model, p, memo));
  memo.set(layer, found);
  return found;
}

export function modelFlops(model: tfl.LayersModel): ModelFlops {
  const layers: LayerFlops[] = [];
  const memo = new Map<Layer, boolean>();
  // A nested model (a transfer backbone) is looked into: its layers are counted in its own graph,
  // which starts at the model's input (nothing trainable lies before a backbone).
  for (const { layer, model: owner } of walkLayers(model)) {
    const macs = multiplyAdds(layer);
    if (macs === null) continue;
    const forward = 2 * macs;
    const weightGrad = layer.trainable && layer.trainableWeights.length > 0 ? forward : 0;
    const inputGrad = trainableUpstream(owner, layer, memo) ? forward : 0;
    layers.push({ name: layer.name, kind: layer.getClassName(), forward, backward: weightGrad + inputGrad });
  }
  const inference = layers.reduce((s, l) => s + l.forward, 0);
  return { inference, training: inference + layers.reduce((s, l) => s + l.backward, 0), layers };
}
