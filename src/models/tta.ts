/**
 * Test-time augmentation: a model's softmax averaged over an image and its mirror image. Fashion-MNIST's
 * garments are (nearly) left-right symmetric and a model trained with random flips has seen both,
 * so averaging the two views removes part of each view's error at twice the inference cost.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import type { TestTimeAugmentation } from './spec.js';

export { TTA_CHOICES, type TestTimeAugmentation } from './spec.js';

/** Softmax outputs for a batch of NHWC images (inference mode), averaged over the TTA views. */
export function predictBatch(model: tfl.LayersModel, x: tf.Tensor4D, tta: TestTimeAugmentation): tf.Tensor2D {
  return tf.tidy(() => {
    const n = x.shape[0];
    const probs = model.predict(x, { batchSize: n }) as tf.Tensor2D;
    if (tta === 'none') return probs;
    const mirrored = model.predict(tf.reverse(x, 2), { batchSize: n }) as tf.Tensor2D;
    return tf.mul(tf.add(probs, mirrored), 0.5);
  });
}
