/**
 * Classifying photos with a trained model: preprocess each input on its own (a bad one gets its
 * own error and does not stop the others), then run all good ones through the model in one batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FASHION_SHAPE, IMAGE_SIZE, NUM_CLASSES } from '../data/types.js';
import { checkModelIO, formatShape, modelImageShape, sameShape, shapeSize } from '../models/shape.js';
import { UserError, errorMessage } from '../util/errors.js';
import { predictBatch } from '../models/tta.js';
import { type PreprocessOverride } from './config.js';
import { preprocessImage } from './photo.js';
import { topK, type ClassScore } from './top.js';
import type { PreprocessedImage, PreprocessInfo } from './preprocess.js';


/** An image to classify: a file path, raw bytes (an upload), or bytes with a name to report. */
export type ImageInput = string | Buffer | { name: string; data: Buffer | string };

export type ImagePrediction =
  | { file: string; ok: true; top: ClassScore[]; probs: number[]; info: PreprocessInfo; pixels: Float32Array }
  | { file: string; ok: false; error: string };

/**
 * Test-time mirroring: 'average' averages the probabilities of the frame and its mirror (a run's
 * tta 'flip', see predict/run.ts), 'max' keeps the more confident of the two (an experiment, for
 * the dev-photo bench), 'none' asks about the frame alone. Shoes need none of it: preprocessing
 * already turns them to face the way Fashion-MNIST's do.
 */
export type MirrorMode = 'none' | 'average' | 'max';

export const DEFAULT_MIRROR: MirrorMode = 'none';

export interface ClassifyOptions {
  /** How many classes to report, best first (default 3). */
  top?: number;
  mirror?: MirrorMode;
  preprocess?: PreprocessOverride;
  /** Images preprocessed at the same time (sharp works off the main thread; more just costs memory). */
  concurrency?: number;
}

export function inputName(input: ImageInput, index: number): string {
  if (typeof input === 'string') return input;
  if (Buffer.isBuffer(input)) return `image ${index + 1}`;
  return input.name;
}

function inputData(input: ImageInput): Buffer | string {
  return typeof input === 'string' || Buffer.isBuffer(input) ? input : input.data;
}

/** The frame flipped left-right. */
export function mirrorFrame(frame: Float32Array, size = IMAGE_SIZE): Float32Array {
  const out = new Float32Array(frame.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) out[y * size + x] = frame[y * size + size - 1 - x];
  }
  return out;
}

/** The frames (FASHION_SHAPE each) as one NHWC batch; the model must take that shape. */
function frameBatch(model: tfl.LayersModel, frames: readonly Float32Array[]): tf.Tensor4D {
  const shape = modelImageShape(model);
  if (!sameShape(shape, FASHION_SHAPE)) {
    throw new UserError(`the model "${model.name}" takes ${formatShape(shape)} images, not the ${formatShape(FASHION_SHAPE)} frames of preprocessing (adapt them inside the model)`);
  }
  const size = shapeSize(shape);
  const batch = new Float32Array(frames.length * size);
  frames.forEach((f, i) => {
    if (f.length !== size) throw new Error(`frame ${i} has ${f.length} values, not ${size}`);
    batch.set(f, i * size);
  });
  return tf.tensor4d(batch, [frames.length, ...shape]);
}

/**
 * Class probabilities for each 28x28 frame. 'none' and 'average' are models/tta's predictBatch
 * (tta 'none' and 'flip'), the same computation `evaluate` uses for a run trained for flip
 * averaging; 'max' needs both views' answers apart, so it runs the mirrored frames as well.
 */
export function predictFrames(model: tfl.LayersModel, frames: readonly Float32Array[], mirror: MirrorMode = DEFAULT_MIRROR): number[][] {
  if (frames.length === 0) return [];
  const n = frames.length;
  const probs = tf.tidy(() => {
    const x = frameBatch(model, mirror === 'max' ? [...frames, ...frames.map((f) => mirrorFrame(f))] : frames);
    return predictBatch(model, x, mirror === 'average' ? 'flip' : 'none').dataSync() as Float32Array;
  });
  const row = (i: number) => Array.from(probs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES));
  return frames.map((_, i) => {
    const plain = row(i);
    if (mirror !== 'max') return plain;
    const flipped = row(n + i);
    return Math.max(...flipped) > Math.max(...plain) ? flipped : plain;
  });
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

type Prepared = { file: string; ok: true; image: PreprocessedImage } | { file: string; ok: false; error: string };

/** Preprocesses every input; failures become one-line errors instead of exceptions. */
export async function preprocessAll(inputs: readonly ImageInput[], options: ClassifyOptions = {}): Promise<Prepared[]> {
  return mapLimit(inputs, options.concurrency ?? 2, async (input, i): Promise<Prepared> => {
    const file = inputName(input, i);
    try {
      return { file, ok: true, image: await preprocessImage(inputData(input), options.preprocess) };
    } catch (e) {
      return { file, ok: false, error: e instanceof UserError ? e.message : `internal error: ${errorMessage(e)}` };
    }
  });
}

/**
 * Classifies images, in input order. The model must already be loaded on an initialised backend
 * (see src/backend). Never throws for a bad image: that image's result has `ok: false`.
 */
export async function classifyImages(model: tfl.LayersModel, inputs: readonly ImageInput[], options: ClassifyOptions = {}): Promise<ImagePrediction[]> {
  checkModelIO(model, { input: FASHION_SHAPE, classes: NUM_CLASSES }, `model "${model.name}"`);
  const prepared = await preprocessAll(inputs, options);
  const good = prepared.filter((p) => p.ok);
  const probs = predictFrames(model, good.map((p) => p.image.pixels), options.mirror);
  let j = 0;
  return prepared.map((p): ImagePrediction => {
    if (!p.ok) return p;
    const row = probs[j++];
    return { file: p.file, ok: true, top: topK(row, options.top ?? 3), probs: row, info: p.image.info, pixels: p.image.pixels };
  });
}
