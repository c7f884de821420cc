/**
 * Classifying a photo without the server's model: TF.js runs the same network in the browser, on
 * the same preprocessing (src/predict/preprocess.ts, plain TypeScript). Only decoding differs: the
 * browser's own decoder and canvas scaling stand in for sharp. Loaded on demand (its own chunk),
 * so the dashboard's first load does not carry TF.js.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { heatColour, topClassSaliency } from '../../src/explain/saliency.js';
import { resolvePreprocessConfig, type DecodeLimits } from '../../src/predict/config.js';
import type { RgbImage } from '../../src/predict/decode.js';
import { preprocessRgb } from '../../src/predict/preprocess.js';
import { topK } from '../../src/predict/top.js';
import type { ServedModelMetadata } from '../../src/serve/model-files.js';
import type { Prediction } from './api.js';

/** The server's answer without its preprocessing report (the browser decodes with its canvas). */
export interface BrowserPrediction extends Omit<Prediction, 'preprocess'> {
  /** Milliseconds spent: loading the model (0 once it is cached), preprocessing, running it. */
  timings: { load: number; preprocess: number; model: number };
  backend: string;
}

const loaded = new Map<string, Promise<tfl.LayersModel>>();

function modelUrl(runId?: string): string {
  return runId ? `api/runs/${encodeURIComponent(runId)}/model/model.json` : 'api/model/model.json';
}

function loadModel(url: string): Promise<tfl.LayersModel> {
  let model = loaded.get(url);
  if (!model) {
    model = tfl.loadLayersModel(url);
    loaded.set(url, model);
    model.catch(() => loaded.delete(url));
  }
  return model;
}

/**
 * The photo as RGB, its long side at most `maxSide` (as sharp's decode does: EXIF orientation
 * applied, transparency on white).
 */
async function decode(file: Blob, maxSide: number, limits: DecodeLimits): Promise<RgbImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    throw new Error('not an image (this browser cannot decode it)');
  }
  const { width: w, height: h } = bitmap;
  if (w < limits.minSide || h < limits.minSide) throw new Error(`image too small: ${w}x${h} pixels (at least ${limits.minSide}x${limits.minSide} needed to see a garment)`);
  if (w * h > limits.maxPixels) throw new Error(`image too large: ${w}x${h} = ${((w * h) / 1e6).toFixed(1)} megapixels (limit ${(limits.maxPixels / 1e6).toFixed(0)})`);
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser has no 2D canvas');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { data, width, height };
}

/** A 28x28 picture as a PNG data URL: grey levels in [0, 1], or RGB bytes. */
function pngUrl(size: number, pixel: (i: number) => [number, number, number]): string {
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    image.data.set([...pixel(i), 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
  return canvas.toDataURL('image/png');
}

export async function classifyInBrowser(file: Blob, runId?: string): Promise<BrowserPrediction> {
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  const t0 = performance.now();
  const model = await loadModel(modelUrl(runId));
  const { fashionCnn } = (model.getUserDefinedMetadata() ?? {}) as Partial<ServedModelMetadata>;
  const t1 = performance.now();
  const config = resolvePreprocessConfig();
  if (file.size > config.limits.maxFileBytes) throw new Error(`file too large: ${(file.size / 1e6).toFixed(1)} MB (limit ${(config.limits.maxFileBytes / 1e6).toFixed(0)} MB)`);
  const { pixels } = await preprocessRgb(await decode(file, config.workingSize, config.limits), config);
  const t2 = performance.now();
  const [answer] = topClassSaliency(model, [pixels], fashionCnn?.tta ?? 'none', true);
  const t3 = performance.now();
  const size = Math.sqrt(pixels.length);
  const grey = (v: number): [number, number, number] => [Math.round(255 * v), Math.round(255 * v), Math.round(255 * v)];
  return {
    top: topK(answer.probs, 3),
    input: pngUrl(size, (i) => grey(pixels[i])),
    saliency: pngUrl(size, (i) => heatColour(answer.saliency![i])),
    model: fashionCnn?.name ?? model.name,
    timings: { load: t1 - t0, preprocess: t2 - t1, model: t3 - t2 },
    backend: tf.getBackend(),
  };
}
