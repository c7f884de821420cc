/**
 * Operation codes shared with the C++ kernels (native/src/*.cc): the numbers must match the
 * enums there. (Where each argument goes is ./param-layout.ts.)
 */
import { ARRAY_LENGTHS } from './param-layout.js';

export const ACTIVATION = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, elu: 4, sigmoid: 5 } as const;

export const UNARY = {
  Relu: 0,
  Relu6: 1,
  Step: 2,
  Square: 3,
  Sqrt: 4,
  Rsqrt: 5,
  Neg: 6,
  Exp: 7,
  Log: 8,
  Abs: 9,
  Floor: 10,
  Ceil: 11,
  Reciprocal: 12,
  Sigmoid: 13,
  Tanh: 14,
  LeakyRelu: 15,
  Elu: 16,
  ClipByValue: 17,
} as const;

export const BINARY = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  SquaredDifference: 4,
  Maximum: 5,
  Minimum: 6,
} as const;

export const REDUCE = { Sum: 0, Mean: 1, Max: 2, Min: 3 } as const;

/** Modes of the addon's randomFill (native/src/random.cc). */
export const RANDOM_MODE = { uniform: 0, dropoutMultiplier: 1, dropout: 2, dropoutWithBits: 3, applyBits: 4 } as const;

/** Largest rank the broadcasting binary kernel takes. */
export const MAX_BINARY_RANK = ARRAY_LENGTHS.binary.outShape;
