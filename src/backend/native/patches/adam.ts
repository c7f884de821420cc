/**
 * AdamOptimizer.applyGradients runs about thirteen element-wise kernels per variable; on the native
 * backend one kernel does the same float32 arithmetic in one pass (bit-identical results).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorMap } from '@tensorflow/tfjs-core';
import { ADAM_UPDATE, type AdamUpdateAttrs } from '../kernels/training.js';
import { core, onNative } from './core.js';

/** The fields of TF.js's AdamOptimizer that its applyGradients uses (protected in its typings). */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
  incrementIterations(): void;
}

type VariableGradients = NamedTensorMap | { name: string; tensor: tf.Tensor }[];

/** TF.js 4.22's AdamOptimizer.applyGradients, with the per-variable arithmetic in one kernel. */
function applyGradients(this: AdamInternals, variableGradients: VariableGradients): void {
  const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
  tf.tidy(() => {
    const oneMinusAccBeta1 = tf.sub(1, this.accBeta1);
    const oneMinusAccBeta2 = tf.sub(1, this.accBeta2);
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      this.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      this.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
      if (gradient == null) return;
      const m = this.accumulatedFirstMoment[i].variable;
      const v = this.accumulatedSecondMoment[i].variable;
      if (value.dtype !== 'float32' || gradient.dtype !== 'float32' || !tf.util.arraysEqual(value.shape, gradient.shape)) {
        // TF.js's own arithmetic (it broadcasts; the fused kernel does not).
        const newM = tf.add(tf.mul(m, this.beta1), tf.mul(gradient, 1 - this.beta1));
        const newV = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(gradient), 1 - this.beta2));
        m.assign(newM);
        v.assign(newV);
        const step = tf.div(tf.div(newM, oneMinusAccBeta1), tf.add(tf.sqrt(tf.div(newV, oneMinusAccBeta2)), this.epsilon));
        value.assign(tf.add(tf.mul(step, -this.learningRate), value));
        return;
      }
      const attrs: AdamUpdateAttrs = { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, learningRate: this.learningRate };
      const [newValue, newM, newV] = tf.engine().runKernel(
        ADAM_UPDATE,
        { value, gradient, m, v, oneMinusAccBeta1, oneMinusAccBeta2 },
        attrs as unknown as NamedAttrMap,
      ) as tf.Tensor[];
      m.assign(newM);
      v.assign(newV);
      value.assign(newValue);
    });
    this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
    this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
  });
  this.incrementIterations();
}

export function patchAdam(): void {
  const proto = core.AdamOptimizer.prototype as unknown as { applyGradients(this: AdamInternals, g: VariableGradients): void };
  const original = proto.applyGradients;
  proto.applyGradients = function (this: AdamInternals, g: VariableGradients): void {
    return onNative() ? applyGradients.call(this, g) : original.call(this, g);
  };
}
