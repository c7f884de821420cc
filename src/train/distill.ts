/**
 * Knowledge distillation (Hinton, Vinyals and Dean 2015): the student learns from the labels and
 * from a teacher's probabilities, both sides softened by a temperature T:
 *
 *   loss = (1 - w) * CE(labels, p) + w * T^2 * KL(q_T || p_T),   p_T = softmax(z / T)
 *
 * where z are the student's logits and q_T the teacher's softened probabilities. T^2 keeps the
 * soft term's gradients on the scale of the hard one's as T changes.
 *
 * The loss goes through tfjs-layers' trainOnBatch like every other run's, so a distilled step is
 * the same step (optimizer, weight average, checkpoints, exact resume). trainOnBatch hands a loss
 * one target tensor of the output's shape, so both targets travel in it: t = 2 * y + q_T, y one-hot.
 * The label is where t >= 1.5 and q_T is t - 2y; argmax(t) is the label, so the accuracy metric
 * stays right. The label's own q_T loses its last bits of precision (about 2e-7), nothing else does.
 *
 * The student's probabilities p stand in for its logits: softmax(log p / T) = softmax(z / T),
 * since log p = z - logsumexp(z) only shifts every class alike.
 *
 * The teacher answers each batch as the student sees it (augmented included), in inference mode:
 * it draws no random numbers, so the student's run stays the one its seed makes. Or ('clean'
 * targets) its answers for the un-augmented images, computed once, stand for their augmented
 * copies: a teacher of five models with flip averaging costs about three student steps a step.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { predictBatch, type TestTimeAugmentation } from '../models/tta.js';
import type { DistillSettings } from '../runs/types.js';

/** Below this a probability counts as this when its log is taken (float32 keeps far smaller ones). */
const TINY = 1e-30;

/** softmax(log(p) / T) for rows of probabilities. */
export function soften(probs: tf.Tensor2D, temperature: number): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(tf.div(tf.log(tf.maximum(probs, TINY)), temperature)) as tf.Tensor2D);
}

/** The targets of a distilled batch: 2 * one-hot labels + the teacher's softened probabilities. */
export function packTargets(oneHot: tf.Tensor2D, soft: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.add(tf.mul(oneHot, 2), soft));
}

/** The labels and the teacher's softened probabilities back from packed targets. */
export function unpackTargets(targets: tf.Tensor): { oneHot: tf.Tensor; soft: tf.Tensor } {
  const oneHot = tf.cast(tf.greaterEqual(targets, 1.5), 'float32');
  return { oneHot, soft: tf.sub(targets, tf.mul(oneHot, 2)) };
}

/** The distillation loss of packed targets (see the top of this file); label smoothing applies to the labels' term. */
export function distillationLoss(d: Pick<DistillSettings, 'temperature' | 'weight'>, labelSmoothing: number): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
  const t = d.temperature;
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const { oneHot, soft } = unpackTargets(yTrue);
      const classes = yTrue.shape[yTrue.shape.length - 1] as number;
      const labels = labelSmoothing > 0 ? tf.add(tf.mul(oneHot, 1 - labelSmoothing), labelSmoothing / classes) : oneHot;
      const hard = tfl.metrics.categoricalCrossentropy(labels, yPred);
      const logStudent = tf.logSoftmax(tf.div(tf.log(tf.maximum(yPred, TINY)), t));
      // KL rather than cross-entropy: the same gradients, and a loss that is 0 when the student matches.
      const kl = tf.sum(tf.mul(soft, tf.sub(tf.log(tf.maximum(soft, TINY)), logStudent)), -1);
      return tf.add(tf.mul(hard, 1 - d.weight), tf.mul(kl, d.weight * t * t));
    });
}

/**
 * A teacher model (an ensemble, or one run) that makes each batch's targets: from the batch's own
 * images, or, given its probabilities for the un-augmented training images ('clean' targets, see
 * teacher-cache.ts), from those rows.
 */
export class Teacher {
  private constructor(
    private model: tfl.LayersModel | null,
    private readonly tta: TestTimeAugmentation,
    private readonly temperature: number,
    private readonly clean: Float32Array | null,
  ) {}

  /** A teacher that answers every batch as the student sees it ('batch' targets). */
  static answering(model: tfl.LayersModel, tta: TestTimeAugmentation, temperature: number): Teacher {
    return new Teacher(model, tta, temperature, null);
  }

  /** A teacher whose answers for the clean training images are all it needs ('clean' targets): no model kept. */
  static fromAnswers(clean: Float32Array, temperature: number): Teacher {
    return new Teacher(null, 'none', temperature, clean);
  }

  /** The packed targets for images `x` (training images `indices`) with one-hot labels `oneHot`. */
  targets(x: tf.Tensor4D, oneHot: tf.Tensor2D, indices: ArrayLike<number>): tf.Tensor2D {
    return tf.tidy(() => packTargets(oneHot, soften(this.clean ? this.cleanRows(indices, oneHot.shape[1]) : predictBatch(this.model!, x, this.tta), this.temperature)));
  }

  private cleanRows(indices: ArrayLike<number>, classes: number): tf.Tensor2D {
    const rows = new Float32Array(indices.length * classes);
    for (let i = 0; i < indices.length; i++) rows.set(this.clean!.subarray(indices[i] * classes, (indices[i] + 1) * classes), i * classes);
    return tf.tensor2d(rows, [indices.length, classes]);
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
