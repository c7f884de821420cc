/**
 * Operation codes shared with the C++ kernels: generated from native/src/param-layout.json (as
 * where each argument goes is, ./param-layout.ts), under the names the kernels use.
 */
import { ARRAY_LENGTHS, CODES } from './param-layout.js';

export const ACTIVATION = CODES.activation;
export const UNARY = CODES.unary;
export const BINARY = CODES.binary;
export const REDUCE = CODES.reduce;
/** Modes of the addon's randomFill (native/src/random.cc). */
export const RANDOM_MODE = CODES.randomMode;

/** Largest rank the broadcasting binary kernel takes. */
export const MAX_BINARY_RANK = ARRAY_LENGTHS.binary.outShape;
