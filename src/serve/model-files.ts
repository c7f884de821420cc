/**
 * A served model as TF.js layers-model files (model.json and one weights file), for the dashboard
 * to classify in the browser. Written from the loaded model, not copied from the run folder, so
 * that what the browser gets is exactly what /predict uses: an interrupted run's checkpoint, or its
 * weight averages (--ema), included.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ServedModel } from './models.js';

export const MODEL_FILE_NAMES = ['model.json', 'weights.bin'] as const;
export type ModelFileName = (typeof MODEL_FILE_NAMES)[number];

export interface ModelFiles {
  'model.json': Buffer;
  'weights.bin': Buffer;
  /** An HTTP entity tag of both files: a browser that has them revalidates for a 304 instead of downloading them again. */
  etag: string;
}

/** What the browser needs besides the layers: the run's test-time augmentation. */
export interface ServedModelMetadata {
  fashionCnn: { name: string; tta: ServedModel['tta'] };
}

async function writeModelFiles({ model, tta }: ServedModel): Promise<ModelFiles> {
  let files: ModelFiles | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const weights = data === undefined ? Buffer.alloc(0) : Buffer.concat((Array.isArray(data) ? data : [data]).map((b) => Buffer.from(b)));
      const metadata: ServedModelMetadata = { fashionCnn: { name: model.name, tta } };
      const json = {
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        // Resolved by TF.js relative to model.json's own URL.
        weightsManifest: [{ paths: ['./weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: metadata,
      };
      const modelJson = Buffer.from(JSON.stringify(json));
      const etag = `"${createHash('sha256').update(modelJson).update(weights).digest('base64url').slice(0, 27)}"`;
      files = { 'model.json': modelJson, 'weights.bin': weights, etag };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (!files) throw new Error(`model "${model.name}" was saved without artifacts`);
  return files;
}

/** Each loaded model's files, written once (the model cache hands out a new model when its run's files change). */
const written = new WeakMap<tfl.LayersModel, Promise<ModelFiles>>();

export function modelFiles(served: ServedModel): Promise<ModelFiles> {
  let files = written.get(served.model);
  if (!files) {
    files = writeModelFiles(served);
    written.set(served.model, files);
    files.catch(() => written.delete(served.model));
  }
  return files;
}
