/** What a model takes and gives, and a check that a loaded model fits the data. */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ImageShape } from '../data/types.js';
import { UserError } from '../util/errors.js';

const dims = (shape: readonly (number | null)[]) => `[${shape.map((d) => d ?? 'batch').join(', ')}]`;

/** The fixed [height, width, channels] of the images a model takes; a UserError for any other kind of input. */
export function modelImageShape(model: tfl.LayersModel): ImageShape {
  if (model.inputs.length !== 1) throw new UserError(`the model "${model.name}" takes ${model.inputs.length} inputs, not one batch of images`);
  const shape = model.inputs[0].shape;
  const [, h, w, c] = shape;
  if (shape.length !== 4 || h == null || w == null || c == null) {
    throw new UserError(`the model "${model.name}" takes input of shape ${dims(shape)}, not a batch of images of one fixed [height, width, channels]`);
  }
  return [h, w, c];
}

export const sameShape = (a: ImageShape, b: ImageShape): boolean => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

export const shapeSize = (s: ImageShape): number => s[0] * s[1] * s[2];

export const formatShape = (s: ImageShape): string => `${s[0]}x${s[1]}x${s[2]}`;

/**
 * Refuses a model that does not take one batch of `expected.input` images and give one vector of
 * `expected.classes` probabilities per image. `what` says which model (e.g. its folder) and starts
 * the message.
 */
export function checkModelIO(model: tfl.LayersModel, expected: { input: ImageShape; classes: number }, what: string): void {
  const want = expected.input;
  const inputs = model.inputs.map((t) => t.shape);
  const input = inputs[0] ?? [];
  const fits = inputs.length === 1 && input.length === 4 && input[1] === want[0] && input[2] === want[1] && input[3] === want[2];
  if (!fits) {
    const got = inputs.length === 1 ? `input of shape ${dims(input)}` : `${inputs.length} inputs`;
    throw new UserError(`${what}: the model takes ${got}, not ${formatShape(want)} images ([batch, ${want.join(', ')}])`);
  }
  const outputs = model.outputs.map((t) => t.shape);
  const output = outputs[0] ?? [];
  if (outputs.length !== 1 || output.length !== 2 || output[1] !== expected.classes) {
    const got = outputs.length === 1 ? `output of shape ${dims(output)}` : `${outputs.length} outputs`;
    throw new UserError(`${what}: the model gives ${got}, not ${expected.classes} class probabilities ([batch, ${expected.classes}])`);
  }
}
