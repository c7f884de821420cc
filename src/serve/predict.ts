/**
 * Classifying one uploaded photo: the predict stage's pipeline on the upload's bytes (no temp
 * file), plus what the dashboard shows: the 28x28 frame the model saw and a saliency map, as PNG
 * data URLs.
 */
import { IMAGE_SIZE } from '../data/types.js';
import { heatColour } from '../explain/saliency.js';
import { checkModelIO } from '../models/shape.js';
import { FASHION_SHAPE, NUM_CLASSES } from '../data/types.js';
import { topK, type ClassScore } from '../predict/index.js';
import { encodePng } from '../util/png.js';
import type { ModelBatcher } from './batcher.js';
import type { ServedModel } from './models.js';
import { HttpError } from './errors.js';
import type { Preprocessor } from './preprocess-pool.js';

export interface PredictAnswer {
  top: ClassScore[];
  /** The preprocessed frame, as the model saw it (PNG, 28x28 grey). */
  input: string;
  /** Saliency of the top class (PNG, 28x28 heat colours); left out when the request asks for none. */
  saliency?: string;
  preprocess: { inverted: boolean; mirrored: boolean; objectFound: boolean; source: { format: string; width: number; height: number } };
}

const dataUrl = (png: Uint8Array) => `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;

/** The status an image the predict stage refused gets: not an image at all, or an image without a garment. */
function statusOf(error: string): number {
  if (/^(not an image|corrupt|truncated)/i.test(error)) return 415;
  if (/^file too large/i.test(error)) return 413;
  if (/^empty file/i.test(error)) return 400;
  return 422;
}

/** A saliency map (values in [0, 1]) in heat colours, as PNG bytes. */
export function saliencyPng(values: Float32Array): Buffer {
  const rgb = new Uint8Array(values.length * 3);
  values.forEach((v, i) => rgb.set(heatColour(v), i * 3));
  return encodePng(rgb, IMAGE_SIZE, IMAGE_SIZE, 3);
}

/**
 * The predict stage's steps (preprocess, then the model and topK) with preprocessing in the pool,
 * and the model's forward pass and saliency gradient batched with other requests' (batcher.ts).
 */
export async function predictUpload({ model, tta }: ServedModel, preprocessor: Preprocessor, batcher: ModelBatcher, bytes: Buffer, top: number, saliency = true): Promise<PredictAnswer> {
  checkModelIO(model, { input: FASHION_SHAPE, classes: NUM_CLASSES }, `model "${model.name}"`);
  const p = await preprocessor.run(bytes);
  if (!p.ok) {
    if (!p.user) throw new Error(`preprocessing failed: ${p.error}`);
    throw new HttpError(statusOf(p.error), p.error);
  }
  const answer = await batcher.classify(model, p.pixels, { tta, saliency });
  const ranked = topK(answer.probs, top);
  const { inverted, mirrored, objectFound, source } = p.info;
  return { top: ranked, input: dataUrl(p.png), ...(answer.saliency ? { saliency: dataUrl(saliencyPng(answer.saliency)) } : {}), preprocess: { inverted, mirrored, objectFound, source: { format: source.format, width: source.width, height: source.height } } };
}
