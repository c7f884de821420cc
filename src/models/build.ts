import * as tf from '@tensorflow/tfjs-layers';
import { UserError } from '../util/errors.js';
import { findModelSpec, INPUT_SHAPE, modelNames, PLANNED_MODELS, type LayerSpec, type ModelSpec } from './registry.js';

function toLayer(spec: LayerSpec, first: boolean): tf.layers.Layer {
  const input = first ? { inputShape: [...INPUT_SHAPE] } : {};
  switch (spec.type) {
    case 'conv2d':
      return tf.layers.conv2d({ ...input, filters: spec.filters, kernelSize: spec.kernel ?? 3, activation: 'relu', kernelInitializer: 'glorotUniform' });
    case 'maxPool':
      return tf.layers.maxPooling2d({ ...input, poolSize: spec.size });
    case 'dropout':
      return tf.layers.dropout({ ...input, rate: spec.rate });
    case 'batchNorm':
      return tf.layers.batchNormalization({ ...input });
    case 'flatten':
      return tf.layers.flatten({ ...input });
    case 'dense':
      return tf.layers.dense({ ...input, units: spec.units, activation: spec.activation ?? 'relu', kernelInitializer: 'glorotUniform' });
  }
}

/** Looks a model up by name, with a one-line error that lists the choices. */
export function requireModelSpec(name: string): ModelSpec {
  const spec = findModelSpec(name);
  if (spec) return spec;
  if (PLANNED_MODELS[name]) throw new UserError(`${name}: ${PLANNED_MODELS[name]}`);
  throw new UserError(`unknown model "${name}" (choose one of ${modelNames().join(', ')})`);
}

/** Builds a fresh, uncompiled model. Weight initialisation draws from Math.random (see util/rng). */
export function buildModel(spec: ModelSpec): tf.Sequential {
  const model = tf.sequential({ name: spec.name });
  spec.layers.forEach((l, i) => model.add(toLayer(l, i === 0)));
  return model;
}

export interface ParamCounts {
  total: number;
  trainable: number;
  nonTrainable: number;
}

export function countParams(model: tf.LayersModel): ParamCounts {
  const size = (ws: tf.LayerVariable[]) => ws.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  const trainable = size(model.trainableWeights);
  const nonTrainable = size(model.nonTrainableWeights);
  return { total: trainable + nonTrainable, trainable, nonTrainable };
}
