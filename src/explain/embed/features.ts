/** What gets embedded: raw pixels, or the activations of one layer of a trained model. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { classifierInputLayer, layerOutputIn } from '../../models/inspect.js';
import { formatShape, modelImageShape, sameShape, shapeSize } from '../../models/shape.js';
import { UserError } from '../../util/errors.js';
import type { Examples } from '../../data/types.js';
import type { DenseMatrix } from './types.js';

/** The chosen examples' pixels in [0, 1], one row of height x width x channels values each. */
export function pixelMatrix(ex: Examples, positions: ArrayLike<number>): DenseMatrix {
  const d = ex.x.length / Math.max(1, ex.count);
  const data = new Float32Array(positions.length * d);
  for (let i = 0; i < positions.length; i++) data.set(ex.x.subarray(positions[i] * d, (positions[i] + 1) * d), i * d);
  return { data, rows: positions.length, cols: d };
}

export function layerNames(model: tfl.LayersModel): string[] {
  return model.layers.map((l) => l.name);
}

/**
 * The layer whose output counts as "what the model learned": the one feeding the final
 * classifier (cnn1: the Dense-128; cnn3/cnn4: the Dropout after it, identical at inference; a
 * functional or transfer model: whatever its last Dense takes, found through the graph).
 */
export function defaultFeatureLayer(model: tfl.LayersModel): string {
  if (model.layers.length === 0) throw new UserError('the model has no layers');
  return classifierInputLayer(model).name;
}

export function requireLayer(model: tfl.LayersModel, name: string): tfl.layers.Layer {
  const layer = model.layers.find((l) => l.name === name);
  if (!layer) throw new UserError(`unknown layer "${name}" (layers: ${layerNames(model).join(', ')})`);
  return layer;
}

/** Activations of `layerName` for the chosen examples, flattened to one row per example. */
export function learnedFeatures(model: tfl.LayersModel, ex: Examples, positions: ArrayLike<number>, layerName: string, batchSize = 256): DenseMatrix {
  const layer = requireLayer(model, layerName);
  const shape = modelImageShape(model);
  if (!sameShape(shape, ex.shape)) throw new UserError(`the model takes ${formatShape(shape)} images, but the examples are ${formatShape(ex.shape)}`);
  const per = shapeSize(shape);
  if (per * ex.count !== ex.x.length) throw new Error(`examples hold ${ex.x.length} values, not ${ex.count} images of ${formatShape(ex.shape)}`);
  const output = layerOutputIn(model, layer);
  const probe = tfl.model({ inputs: model.inputs, outputs: output });
  const d = output.shape.slice(1).reduce((a: number, b) => a * (b ?? 1), 1);
  const n = positions.length;
  const data = new Float32Array(n * d);
  const batch = new Float32Array(batchSize * per);
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    for (let i = 0; i < m; i++) batch.set(ex.x.subarray(positions[s + i] * per, (positions[s + i] + 1) * per), i * per);
    const out = tf.tidy(() => {
      const input = tf.tensor(batch.subarray(0, m * per), [m, ...shape]);
      return probe.predict(input) as tf.Tensor;
    });
    data.set(out.dataSync() as Float32Array, s * d);
    out.dispose();
  }
  return { data, rows: n, cols: d };
}
