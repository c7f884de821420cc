/**
 * What a model is, as data: one of three kinds, told apart by `kind`.
 *
 *  - 'layers':   a plain stack of layers (a tfl.Sequential), declared as a list;
 *  - 'graph':    a functional graph with branches and skip connections, written with a small
 *                typed builder (see graph.ts);
 *  - 'transfer': a frozen pretrained backbone (a TF.js layers model on disk) and a trained head.
 *
 * Every kind names the shape of the *data* images it takes (`input`); anything a model needs to
 * turn those into what its layers want (resizing, grey to colour) happens inside the model.
 */
import type { ImageShape } from '../data/types.js';
import type { GraphBuilder, Node } from './graph.js';

/** One layer of a 'layers' model or of a transfer head, with Keras's defaults unless stated. */
export type LayerSpec =
  /** 'valid' padding, stride 1, ReLU, glorot-uniform. */
  | { type: 'conv2d'; filters: number; kernel?: number }
  | { type: 'maxPool'; size: number }
  | { type: 'dropout'; rate: number }
  | { type: 'batchNorm' }
  | { type: 'flatten' }
  | { type: 'globalAvgPool' }
  /** ReLU unless `activation` says otherwise, glorot-uniform. */
  | { type: 'dense'; units: number; activation?: 'relu' | 'softmax' };

/** The article's reported figures for a model (test set, single unseeded Keras runs). */
export interface ArticleFigures {
  params: number;
  phase1: { loss: number; acc: number; seconds: number };
  phase2?: { loss: number; acc: number; seconds: number };
}

interface SpecBase {
  name: string;
  title: string;
  /** The shape of the data images the model takes: [height, width, channels] (FASHION_SHAPE for Fashion-MNIST). */
  input: ImageShape;
  article?: ArticleFigures;
}

export interface LayersSpec extends SpecBase {
  kind: 'layers';
  layers: LayerSpec[];
}

export interface GraphSpec extends SpecBase {
  kind: 'graph';
  /** Builds the graph: receives the input node (one batch of data images) and returns the output node. */
  graph: (x: Node, g: GraphBuilder) => Node;
}

/** A pretrained feature extractor in TF.js layers format. */
export interface BackboneSpec {
  source: 'tfjs';
  /** A folder holding model.json (+ weight files); relative paths are resolved from the working directory. */
  path: string;
  /** The layer whose output are the features (default: the model's own output). */
  layer?: string;
  /** Side of the square images the backbone takes; needed when its model.json leaves height and width open. */
  inputSize?: number;
  /** The backbone is always frozen (and runs in inference mode); fine-tuning is not supported yet. */
  trainable?: false;
}

export interface TransferSpec extends SpecBase {
  kind: 'transfer';
  backbone: BackboneSpec;
  /** Layers applied to the backbone's features; the last one gives the class probabilities. */
  head: LayerSpec[];
}

export type ModelSpec = LayersSpec | GraphSpec | TransferSpec;

export type ModelKind = ModelSpec['kind'];
