/** What a model takes and gives, checked against what the caller has. */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ImageShape } from '../data/types.js';
import { UserError } from '../util/errors.js';

export function modelImageShape(model: tfl.LayersModel): ImageShape {
  const s = model.inputs[0]?.shape ?? [];
  return [s[1] ?? -1, s[2] ?? -1, s[3] ?? -1];
}

/** Refuses a model whose input or output does not fit; `what` names it (a file) in the message. */
export function checkModelIO(model: tfl.LayersModel, expected: { input: ImageShape; classes: number }, what: string): void {
  const input = model.inputs[0]?.shape ?? [];
  const output = model.outputs[0]?.shape ?? [];
  const want = expected.input;
  const inputOk = input.length === 4 && input[1] === want[0] && input[2] === want[1] && input[3] === want[2];
  if (!inputOk) throw new UserError(`${what}: the model takes input of shape [${input.join(', ')}], not [batch, ${want.join(', ')}]`);
  if (output[output.length - 1] !== expected.classes) throw new UserError(`${what}: the model gives ${output[output.length - 1]} outputs, not ${expected.classes} class probabilities`);
}
