/**
 * Keras's VGG-19 convolutional base (keras.applications.VGG19 with include_top=False), layer for
 * layer and with Keras's layer names, so that Keras's weight files load into it by name:
 * five blocks of 3x3 'same' convolutions with ReLU (64, 128, 256, 512, 512 filters; 2, 2, 4, 4, 4
 * convolutions), each ended by a 2x2 max pooling. 20,024,384 parameters at any input size.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../util/errors.js';
import { GraphBuilder } from './graph.js';

const BLOCKS: readonly (readonly [filters: number, convs: number])[] = [
  [64, 2],
  [128, 2],
  [256, 4],
  [512, 4],
  [512, 4],
];

/** Keras refuses smaller inputs: five halvings must leave at least one pixel. */
export const VGG19_MIN_INPUT = 32;

export function checkVgg19InputSize(size: number): void {
  if (!Number.isInteger(size) || size < VGG19_MIN_INPUT) throw new UserError(`vgg19: the input size must be a whole number of at least ${VGG19_MIN_INPUT} pixels, not ${size}`);
}

/** The base for square RGB images of `size` pixels; weights drawn from Math.random (Keras's glorot-uniform, zero biases). */
export function buildVgg19Base(size: number): tfl.LayersModel {
  checkVgg19InputSize(size);
  const g = new GraphBuilder();
  const input = tfl.input({ shape: [size, size, 3], name: 'input_1' });
  let x = input;
  BLOCKS.forEach(([filters, convs], b) => {
    for (let i = 1; i <= convs; i++) x = g.conv2d(x, { name: `block${b + 1}_conv${i}`, filters, padding: 'same', activation: 'relu' });
    x = g.maxPool(x, { name: `block${b + 1}_pool`, size: 2, strides: 2 });
  });
  return tfl.model({ inputs: input, outputs: x, name: 'vgg19' });
}
