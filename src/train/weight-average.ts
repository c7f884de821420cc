/**
 * An exponential moving average of a model's weights (Polyak averaging; Keras 3's optimizer
 * `use_ema`, timm's ModelEma). After every training step, for every weight of the model:
 *
 *   average ← d · average + (1 − d) · weight,   d = min(decay, (1 + t) / (10 + t))
 *
 * where t counts the updates so far (TensorFlow's ExponentialMovingAverage with num_updates): the
 * ramp lets the first steps' random weights fade at once instead of over thousands of steps.
 * Batch-norm statistics are averaged too, as timm does: statistics of the raw weights do not match
 * averaged kernels.
 *
 * Validation and test predictions use the averages (swapped in for the evaluation and out again, as
 * Keras's SwapEMAWeights does), and the model saved at the end of training holds them. The averages
 * and t are part of the optimizer's state (see `withWeightAverage`), so every checkpoint holds them
 * and a resumed run continues bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { isWeightAverageDecay, WEIGHT_AVERAGE_NAMES } from '../runs/index.js';
import { UserError } from '../util/errors.js';

type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

const { prefix: PREFIX, steps: STEPS } = WEIGHT_AVERAGE_NAMES;

export class WeightAverage {
  private readonly averages: tf.Variable[];
  private steps = 0;
  /** True while the averages are in the model (between swapIn and swapOut, or after finalize). */
  private swapped = false;
  /** Weights of frozen layers (a transfer backbone): they never change, and d·w + (1−d)·w is not always w in float32. */
  private readonly frozen: boolean[];

  constructor(private readonly model: tfl.LayersModel, readonly decay: number) {
    if (!isWeightAverageDecay(decay)) throw new Error(`weight-average decay must be between 0 and 1 (exclusive), not ${decay}`);
    const frozenIds = new Set(model.layers.filter((l) => !l.trainable).flatMap((l) => l.weights.map((w) => w.id)));
    this.frozen = model.weights.map((w) => frozenIds.has(w.id));
    // A copy of each weight's values, not a tensor sharing its buffer.
    this.averages = tf.tidy(() =>
      model.weights.map((w) => {
        const t = w.read();
        return tf.variable(tf.tensor(t.dataSync().slice(), t.shape, t.dtype), false);
      }),
    );
  }

  /** The decay of the next update. */
  currentDecay(): number {
    return Math.min(this.decay, (1 + this.steps) / (10 + this.steps));
  }

  /** One update from the model's weights as they are now (after a training step). */
  update(): void {
    if (this.swapped) throw new Error('the weight averages are in the model: swap them out before training');
    const d = this.currentDecay();
    tf.tidy(() => {
      this.model.weights.forEach((w, i) => {
        if (this.frozen[i]) return;
        const avg = this.averages[i];
        avg.assign(tf.add(tf.mul(avg, d), tf.mul(w.read(), 1 - d)));
      });
    });
    this.steps++;
  }

  /** Exchanges the model's weights and the averages (no arithmetic: two swaps restore both exactly). */
  private exchange(): void {
    tf.tidy(() => {
      this.model.weights.forEach((w, i) => {
        const current = tf.clone(w.read());
        w.write(this.averages[i]);
        this.averages[i].assign(current);
      });
    });
    this.swapped = !this.swapped;
  }

  /** Runs `fn` with the averages in the model, and puts the trained weights back after it. */
  async evaluateWith<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.swapped) return fn();
    this.exchange();
    try {
      return await fn();
    } finally {
      this.exchange();
    }
  }

  /** Leaves the averages in the model for good (the end of training: the model saved is the average). */
  finalize(): void {
    if (!this.swapped) this.exchange();
  }

  owns(name: string): boolean {
    return name.startsWith(PREFIX);
  }

  /** The averages (live variables) and a fresh step-count tensor, for a checkpoint. */
  getWeights(): NamedTensor[] {
    if (this.swapped) throw new Error('the weight averages are in the model: a checkpoint would mix them up');
    return [{ name: STEPS, tensor: tf.scalar(this.steps, 'int32') }, ...this.averages.map((v, i) => ({ name: WEIGHT_AVERAGE_NAMES.weight(i), tensor: v }))];
  }

  /** Restores what getWeights saved; every average must be there, with the model's shapes. */
  setWeights(weights: readonly NamedTensor[]): void {
    const byName = new Map(weights.map((w) => [w.name, w.tensor]));
    const steps = byName.get(STEPS);
    if (!steps) throw new UserError(`the checkpoint holds no weight averages (${STEPS} missing), but the run averages its weights`);
    const missing = this.averages.findIndex((v, i) => {
      const t = byName.get(WEIGHT_AVERAGE_NAMES.weight(i));
      return !t || t.shape.join('x') !== v.shape.join('x');
    });
    if (missing >= 0 || weights.length !== this.averages.length + 1) {
      throw new UserError(`the checkpoint's weight averages do not match the model (${weights.length - 1} saved, ${this.averages.length} weights; first mismatch at ${PREFIX}${missing})`);
    }
    this.steps = steps.dataSync()[0];
    tf.tidy(() => this.averages.forEach((v, i) => v.assign(tf.clone(byName.get(WEIGHT_AVERAGE_NAMES.weight(i))!))));
    this.swapped = false;
  }

  dispose(): void {
    this.averages.forEach((v) => v.dispose());
  }
}
