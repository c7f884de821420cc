/**
 * An ensemble as one model: every member sees the same input and their class probabilities are
 * averaged. Being a LayersModel, it goes wherever a single model goes (photo classification,
 * the server, saliency maps through `apply`, test-time flip) with no second code path.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../util/errors.js';
import { formatShape, modelImageShape, sameShape } from './shape.js';

/**
 * The members' averaged probabilities as one model. The members become its layers, so they are
 * renamed member_1, member_2, ... first: tfjs-layers refuses two layers of one name, and runs of
 * one architecture all carry its name. Disposing the ensemble disposes the members.
 */
export function averageModels(members: readonly tfl.LayersModel[], name = 'ensemble'): tfl.LayersModel {
  if (members.length === 0) throw new UserError('an ensemble needs at least one member');
  const shape = modelImageShape(members[0]);
  members.forEach((m, i) => {
    const other = modelImageShape(m);
    if (!sameShape(other, shape)) throw new UserError(`ensemble member ${i + 1} ("${m.name}") takes ${formatShape(other)} images, member 1 ("${members[0].name}") ${formatShape(shape)}: members must take the same images`);
  });
  // Layer.name is declared read-only but is a plain field, read when the container is built.
  members.forEach((m, i) => Object.assign(m, { name: `member_${i + 1}` }));
  const input = tfl.input({ shape: [...shape] });
  const outputs = members.map((m) => m.apply(input) as tfl.SymbolicTensor);
  const output = members.length === 1 ? outputs[0] : (tfl.layers.average().apply(outputs) as tfl.SymbolicTensor);
  return tfl.model({ inputs: input, outputs: output, name });
}
