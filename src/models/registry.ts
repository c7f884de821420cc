/**
 * Every model fashion-cnn can train, declared in one list (like a Keras model zoo): adding a model
 * is adding one entry. Architectures follow ../shared/reference/ARTICLE.md exactly: Keras
 * defaults (stride 1, 'valid' padding, ReLU inside Conv2D/Dense, glorot-uniform).
 */
import { CLASS_NAMES, IMAGE_SIZE } from '../data/types.js';

export type LayerSpec =
  | { type: 'conv2d'; filters: number; kernel?: number }
  | { type: 'maxPool'; size: number }
  | { type: 'dropout'; rate: number }
  | { type: 'batchNorm' }
  | { type: 'flatten' }
  | { type: 'dense'; units: number; activation?: 'relu' | 'softmax' };

/** The article's reported figures for a model (test set, single unseeded Keras runs). */
export interface ArticleFigures {
  params: number;
  phase1: { loss: number; acc: number; seconds: number };
  phase2?: { loss: number; acc: number; seconds: number };
}

export interface ModelSpec {
  name: string;
  title: string;
  layers: LayerSpec[];
  article?: ArticleFigures;
}

const softmaxOut: LayerSpec = { type: 'dense', units: CLASS_NAMES.length, activation: 'softmax' };

export const MODEL_SPECS: readonly ModelSpec[] = [
  {
    name: 'cnn1',
    title: '1 convolutional layer',
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
    name: 'cnn3',
    title: '3 convolutional layers',
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
    name: 'cnn4',
    title: '4 convolutional layers with batch normalisation',
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
];

/** Models named by the article (or the CLI contract) that a later stage will add. */
export const PLANNED_MODELS: Readonly<Record<string, string>> = {
  vgg19: 'VGG-19 transfer learning is not available yet (planned: frozen ImageNet features + a trained head)',
};

export const INPUT_SHAPE = [IMAGE_SIZE, IMAGE_SIZE, 1] as const;

export function modelNames(): string[] {
  return MODEL_SPECS.map((m) => m.name);
}

export function findModelSpec(name: string): ModelSpec | undefined {
  return MODEL_SPECS.find((m) => m.name === name);
}
