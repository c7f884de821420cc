/**
 * An ensemble as one model: every member sees the same input and their class probabilities are
 * averaged. Being a LayersModel, it goes wherever a single model goes (photo classification,
 * the server, saliency maps through `apply`, test-time flip) with no second code path.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../util/errors.js';
import { formatShape, modelImageShape, sameShape } from './shape.js';

/**
 * Gives a member, its layers and their weights names of their own. Runs of one architecture share
 * every name, and tfjs-layers refuses two layers of one name in a model and, when it loads a saved
 * model, two weights of one name: the ensemble's model files (which the dashboard loads) would not
 * load back. Layer.name and LayerVariable.originalName are declared read-only but are plain fields,
 * read when the container is built and when it is saved.
 */
function renameMember(model: tfl.LayersModel, name: string): void {
  // A functional model remembers which of its layers' nodes it holds by "<layer name>_ib-<i>" keys
  // (Container.containerNodes), made when it was built; they follow the layers' new names, or
  // saving it would drop every connection.
  const nodes = (model as unknown as { containerNodes?: Set<string> }).containerNodes;
  for (const layer of model.layers) {
    const renamed = `${name}_${layer.name}`;
    if (nodes) {
      for (const key of [...nodes]) {
        const m = /^(.*)_ib-(\d+)$/.exec(key);
        if (m && m[1] === layer.name) {
          nodes.delete(key);
          nodes.add(`${renamed}_ib-${m[2]}`);
        }
      }
    }
    for (const w of layer.weights) Object.assign(w, { originalName: w.originalName.replace(layer.name, renamed) });
    Object.assign(layer, { name: renamed });
  }
  Object.assign(model, { name });
}

/**
 * The members' averaged probabilities as one model. The members become its layers, so they are
 * renamed member_1, member_2, ... first (renameMember). Disposing the ensemble disposes the members.
 */
export function averageModels(members: readonly tfl.LayersModel[], name = 'ensemble'): tfl.LayersModel {
  if (members.length === 0) throw new UserError('an ensemble needs at least one member');
  const shape = modelImageShape(members[0]);
  members.forEach((m, i) => {
    const other = modelImageShape(m);
    if (!sameShape(other, shape)) throw new UserError(`ensemble member ${i + 1} ("${m.name}") takes ${formatShape(other)} images, member 1 ("${members[0].name}") ${formatShape(shape)}: members must take the same images`);
  });
  members.forEach((m, i) => renameMember(m, `member_${i + 1}`));
  const input = tfl.input({ shape: [...shape] });
  const outputs = members.map((m) => m.apply(input) as tfl.SymbolicTensor);
  const output = members.length === 1 ? outputs[0] : (tfl.layers.average().apply(outputs) as tfl.SymbolicTensor);
  return tfl.model({ inputs: input, outputs: output, name });
}
