/** LayerSpec -> TF.js layer, for 'layers' models and transfer heads. */
import * as tfl from '@tensorflow/tfjs-layers';
import type { ImageShape } from '../data/types.js';
import type { LayerSpec } from './spec.js';

export interface LayerPlacement {
  /** For the first layer of a tfl.Sequential: the shape of one input image. */
  inputShape?: ImageShape;
  name?: string;
}

/**
 * The TF.js layer for one LayerSpec. The arguments are exactly those cnn1/cnn3/cnn4 were trained
 * with (changing any of them changes their initial weights or their training): Keras defaults
 * (stride 1, 'valid' padding, ReLU inside Conv2D/Dense, glorot-uniform).
 */
export function toLayer(spec: LayerSpec, at: LayerPlacement = {}): tfl.layers.Layer {
  const input = { ...(at.inputShape ? { inputShape: [...at.inputShape] } : {}), ...(at.name ? { name: at.name } : {}) };
  switch (spec.type) {
    case 'conv2d':
      return tfl.layers.conv2d({ ...input, filters: spec.filters, kernelSize: spec.kernel ?? 3, activation: 'relu', kernelInitializer: 'glorotUniform' });
    case 'maxPool':
      return tfl.layers.maxPooling2d({ ...input, poolSize: spec.size });
    case 'dropout':
      return tfl.layers.dropout({ ...input, rate: spec.rate });
    case 'batchNorm':
      return tfl.layers.batchNormalization({ ...input });
    case 'flatten':
      return tfl.layers.flatten({ ...input });
    case 'globalAvgPool':
      return tfl.layers.globalAveragePooling2d({ ...input });
    case 'dense':
      return tfl.layers.dense({ ...input, units: spec.units, activation: spec.activation ?? 'relu', kernelInitializer: 'glorotUniform' });
  }
}
