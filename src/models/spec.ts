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

/** Test-time augmentation (models/tta.ts): none, or averaged with the mirror image. Here, free of TF.js, for the flags. */
export const TTA_CHOICES = ['none', 'flip'] as const;
export type TestTimeAugmentation = (typeof TTA_CHOICES)[number];

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

/** How a backbone wants its pixels: as the data has them ([0,1]), or Caffe's way (0-255, BGR, ImageNet means subtracted). */
export type PixelPreprocess = 'unit' | 'caffe';

interface BackboneCommon {
  /** The layer whose output are the features (default: the model's own output). */
  layer?: string;
  /** Side of the square images the backbone takes (a fully convolutional backbone can take other sizes than it was saved with). */
  inputSize?: number;
  /** Global pooling of the features over height and width (default none: the feature maps are kept). */
  pool?: 'avg' | 'max';
  /** Default 'unit'. */
  preprocess?: PixelPreprocess;
  /** The backbone is always frozen (and runs in inference mode), except the layers `fineTune` names. */
  trainable?: false;
  /**
   * Fine-tuning: the backbone layers whose names start with this (e.g. 'block5') train with the
   * head; the rest stay frozen. The backbone then runs on every batch (no feature cache).
   */
  fineTune?: string;
}

/** A pretrained feature extractor in TF.js layers format. */
export interface TfjsBackbone extends BackboneCommon {
  source: 'tfjs';
  /** A folder holding model.json (+ weight files), or the model.json itself; relative paths are resolved from the working directory. */
  path: string;
  /** 'pretrained' (default): the saved weights; 'random': the same network freshly initialised from the run's seed (a control). */
  weights?: 'pretrained' | 'random';
}

/** Keras's VGG-19 convolutional base (keras.applications.VGG19, include_top=False), built here layer for layer. */
export interface Vgg19Backbone extends BackboneCommon {
  source: 'vgg19';
  /**
   * 'imagenet' (default): Keras's ImageNet weights, from $FASHION_CNN_VGG19_WEIGHTS, the cache or
   * Keras's URL; a path or URL of a Keras .h5 weights file; 'random': freshly initialised.
   */
  weights?: string;
}

export type BackboneSpec = TfjsBackbone | Vgg19Backbone;

export interface TransferSpec extends SpecBase {
  kind: 'transfer';
  backbone: BackboneSpec;
  /** Layers applied to the backbone's features; the last one gives the class probabilities. */
  head: LayerSpec[];
}

export type ModelSpec = LayersSpec | GraphSpec | TransferSpec;

/**
 * Choices a run makes about its model beyond the name, recorded in config.json: a transfer
 * model's input size, weights and backbone (see applyModelOptions in registry.ts).
 */
export interface ModelOptions {
  inputSize?: number;
  /** The backbone's weights: 'random', or for vgg19 a path or URL of a Keras .h5 file ('imagenet' by default). */
  weights?: string;
  /** A TF.js layers model (folder or model.json) to use as the backbone. */
  backbone?: string;
  backboneLayer?: string;
  /** Backbone layers to train with the head (a name prefix, e.g. 'block5'). */
  fineTune?: string;
}

export type ModelKind = ModelSpec['kind'];
