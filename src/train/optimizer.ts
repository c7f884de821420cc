/**
 * The optimizer and the loss of a training run, made from its typed config in one place (train
 * and bench both compile through `compileForTraining`). Each optimizer is a small subclass of
 * TF.js's own that exposes its learning rate, so schedules need no casts to reach it.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { OptimizerSpec, TrainHyperParams } from '../runs/types.js';
import { WeightAverage } from './weight-average.js';
import { distillationLoss } from './distill.js';
import { ARTICLE_PROTOCOL } from './protocol.js';

/** An optimizer whose learning rate a schedule can read and set between steps. */
export interface TrainOptimizer extends tf.Optimizer {
  getLearningRate(): number;
  setLearningRate(lr: number): void;
  /** The run's average of the weights (--ema), updated after every step; absent when the run keeps none. */
  readonly weightAverage?: WeightAverage;
}

/** The article's optimizer (src/train/protocol.ts). */
export const DEFAULT_OPTIMIZER: OptimizerSpec = ARTICLE_PROTOCOL.hyper.optimizer;

/** TF.js's Adam keeps beta1^t and beta2^t in these variables (private in its typings). */
interface AdamBiasCorrection {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

const ACC_BETA_NAMES = ['adam/accBeta1', 'adam/accBeta2'] as const;

/** beta^(t+1) as TF.js's Adam accumulates it: a float32 product, rounded at every step. */
export function accumulatedBeta(beta: number, iterations: number): number {
  const b = Math.fround(beta);
  let acc = b;
  for (let t = 0; t < iterations; t++) acc = Math.fround(acc * b);
  return acc;
}

/**
 * TF.js's Adam, with its whole state in getWeights/setWeights. TF.js saves the moments and the
 * step count but not beta1^t and beta2^t: its setWeights recomputes them with pow(), which differs
 * in the last bits from the product it accumulates step by step, so a resumed run drifts from an
 * uninterrupted one after a few hundred steps. Here both are saved and restored exactly (and a
 * checkpoint without them gets the product recomputed step by step).
 */
class Adam extends tf.AdamOptimizer implements TrainOptimizer {
  constructor(lr: number, spec: { beta1: number; beta2: number; epsilon: number | null }) {
    // TF.js takes the backend's epsilon when none is given (its own default, and Keras's 1e-7).
    super(lr, spec.beta1, spec.beta2, spec.epsilon ?? undefined);
  }
  getLearningRate(): number {
    return this.learningRate;
  }
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }

  private biasCorrection(): AdamBiasCorrection {
    const internals = this as unknown as Partial<AdamBiasCorrection>;
    if (!(internals.accBeta1 instanceof tf.Variable) || !(internals.accBeta2 instanceof tf.Variable)) {
      throw new Error('TF.js\'s AdamOptimizer no longer keeps accBeta1/accBeta2: exact resume needs updating for this version');
    }
    return internals as AdamBiasCorrection;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const { accBeta1, accBeta2 } = this.biasCorrection();
    return [...(await super.getWeights()), { name: ACC_BETA_NAMES[0], tensor: accBeta1 }, { name: ACC_BETA_NAMES[1], tensor: accBeta2 }];
  }

  override async setWeights(weights: NamedTensor[]): Promise<void> {
    const saved = weights.filter((w) => (ACC_BETA_NAMES as readonly string[]).includes(w.name));
    await super.setWeights(weights.filter((w) => !saved.includes(w)));
    const { accBeta1, accBeta2 } = this.biasCorrection();
    const restore = (v: tf.Variable, name: string, beta: number) => {
      const w = saved.find((s) => s.name === name);
      v.assign(w ? tf.reshape(w.tensor, []) : tf.scalar(accumulatedBeta(beta, this.iterations)));
    };
    tf.tidy(() => {
      restore(accBeta1, ACC_BETA_NAMES[0], this.beta1);
      restore(accBeta2, ACC_BETA_NAMES[1], this.beta2);
    });
  }
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter; PyTorch's AdamW): before each Adam step
 * every kernel (weights of rank >= 2) is multiplied by 1 - lr * decay. Biases and batch-norm
 * parameters are not decayed: shrinking them only fights the normalisation.
 */
class AdamW extends Adam {
  constructor(lr: number, private readonly spec: Extract<OptimizerSpec, { kind: 'adamw' }>) {
    super(lr, spec);
  }
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    decayKernels(variableGradients, 1 - this.learningRate * this.spec.weightDecay);
    super.applyGradients(variableGradients);
  }
}

/** Multiplies every kernel (rank >= 2) among the variables about to be updated by `keep`. */
function decayKernels(variableGradients: Parameters<tf.Optimizer['applyGradients']>[0], keep: number): void {
  if (keep === 1) return;
  const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
  tf.tidy(() => {
    for (const name of names) {
      const v = tf.engine().registeredVariables[name];
      if (v && v.rank >= 2) v.assign(tf.mul(v, keep));
    }
  });
}

/** SGD with (optionally Nesterov) momentum; momentum 0 is plain SGD. Weight decay as AdamW's. */
class Sgd extends tf.MomentumOptimizer implements TrainOptimizer {
  constructor(lr: number, private readonly spec: Extract<OptimizerSpec, { kind: 'sgd' }>) {
    super(lr, spec.momentum, spec.nesterov);
  }
  getLearningRate(): number {
    return this.learningRate;
  }
  override applyGradients(variableGradients: Parameters<tf.MomentumOptimizer['applyGradients']>[0]): void {
    decayKernels(variableGradients, 1 - this.learningRate * this.spec.weightDecay);
    super.applyGradients(variableGradients);
  }
}

export function makeOptimizer(spec: OptimizerSpec, lr: number): TrainOptimizer {
  switch (spec.kind) {
    case 'adam':
      return new Adam(lr, spec);
    case 'adamw':
      return new AdamW(lr, spec);
    case 'sgd':
      return new Sgd(lr, spec);
  }
}

/**
 * Categorical cross-entropy, with Keras's label smoothing when asked for: the targets become
 * y * (1 - s) + s / classes. Without smoothing it is tfjs-layers' own loss by name.
 */
export function makeLoss(labelSmoothing: number): string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor) {
  if (labelSmoothing === 0) return 'categoricalCrossentropy';
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const classes = yTrue.shape[yTrue.shape.length - 1] as number;
      const smoothed = tf.add(tf.mul(yTrue, 1 - labelSmoothing), labelSmoothing / classes);
      return tfl.metrics.categoricalCrossentropy(smoothed, yPred);
    });
}

/**
 * The optimizer with a weight average riding along (Keras 3 keeps its EMA in the optimizer too):
 * updated after every step it applies, and saved and restored with its own state, so that
 * checkpoints need nothing new to hold it.
 */
export function withWeightAverage(optimizer: TrainOptimizer, average: WeightAverage): TrainOptimizer {
  const own = { apply: optimizer.applyGradients.bind(optimizer), get: optimizer.getWeights.bind(optimizer), set: optimizer.setWeights.bind(optimizer), dispose: optimizer.dispose.bind(optimizer) };
  return Object.assign(optimizer, {
    weightAverage: average,
    applyGradients(variableGradients: Parameters<tf.Optimizer['applyGradients']>[0]): void {
      own.apply(variableGradients);
      average.update();
    },
    async getWeights(): Promise<NamedTensor[]> {
      return [...(await own.get()), ...average.getWeights()];
    },
    async setWeights(weights: NamedTensor[]): Promise<void> {
      await own.set(weights.filter((w) => !average.owns(w.name)));
      average.setWeights(weights.filter((w) => average.owns(w.name)));
    },
    dispose(): void {
      own.dispose();
      average.dispose();
    },
  });
}

/** Compiles `model` for training with the run's optimizer and loss (and weight average, when asked); returns the optimizer. */
export function compileForTraining(model: tfl.LayersModel, hyper: Pick<TrainHyperParams, 'optimizer' | 'lr' | 'labelSmoothing'> & Partial<Pick<TrainHyperParams, 'ema' | 'distill'>>): TrainOptimizer {
  const plain = makeOptimizer(hyper.optimizer, hyper.lr);
  const optimizer = hyper.ema != null ? withWeightAverage(plain, new WeightAverage(model, hyper.ema)) : plain;
  // A distilled run's targets carry the teacher's probabilities beside the labels (./distill.ts).
  const loss = hyper.distill ? distillationLoss(hyper.distill, hyper.labelSmoothing) : makeLoss(hyper.labelSmoothing);
  model.compile({ optimizer, loss, metrics: ['accuracy'] });
  return optimizer;
}
