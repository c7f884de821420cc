/** Writes HDF5 files in Keras 2's weights layout (what save_weights and keras.applications' files hold), for tests. */
import * as h5 from 'h5wasm/node';


export interface FileWeight {
  name: string;
  shape: number[];
  values: Float32Array | Float64Array | Int32Array;
  /** h5wasm dtype of the dataset; float32 by default. */
  dtype?: string;
}
export interface FileLayer {
  name: string;
  weights: FileWeight[];
}
export interface WriteOptions {
  /** How name lists are stored: fixed-length byte strings (numpy 'S', h5py 2) or variable-length (h5py 3). */
  strings?: 'fixed' | 'vlen';
  /** model.save's layout: the weights under the group model_weights. */
  fullModel?: boolean;
  /** Split layer_names into this many attributes layer_names0, layer_names1, ... (Keras does for long lists). */
  chunks?: number;
  /** Leave out the layer_names attribute. */
  noLayerNames?: boolean;
}

export type Group = InstanceType<typeof h5.Group>;

function writeNames(owner: Group, attr: string, names: string[], strings: 'fixed' | 'vlen'): void {
  // An empty list, as h5py stores Keras's [] for a layer without weights: an empty float64 array.
  if (names.length === 0) owner.create_attribute(attr, new Float64Array(0), [0], '<d');
  else if (strings === 'vlen') owner.create_attribute(attr, names);
  else owner.create_attribute(attr, names, null, `S${Math.max(...names.map((n) => Buffer.byteLength(n)))}`);
}

/** Writes `layers` as Keras 2's save_weights would: groups in sorted order, layer_names in the model's. */
export async function writeKerasH5(file: string, layers: FileLayer[], opts: WriteOptions = {}): Promise<string> {
  await h5.ready;
  const strings = opts.strings ?? 'fixed';
  const f = new h5.File(file, 'w');
  try {
    let root: Group = f;
    if (opts.fullModel) {
      f.create_attribute('model_config', '{"class_name": "Functional", "config": {}}');
      root = f.create_group('model_weights');
    }
    if (!opts.noLayerNames) {
      const names = layers.map((l) => l.name);
      if (opts.chunks) {
        const per = Math.ceil(names.length / opts.chunks);
        for (let i = 0; i < opts.chunks; i++) writeNames(root, `layer_names${i}`, names.slice(i * per, (i + 1) * per), strings);
      } else {
        writeNames(root, 'layer_names', names, strings);
      }
    }
    root.create_attribute('backend', 'tensorflow');
    root.create_attribute('keras_version', '2.15.0');
    for (const layer of [...layers].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const g = root.create_group(layer.name);
      writeNames(g, 'weight_names', layer.weights.map((w) => w.name), strings);
      for (const w of layer.weights) {
        const parts = w.name.split('/');
        let parent = g;
        for (const p of parts.slice(0, -1)) parent = (parent.keys().includes(p) ? parent.get(p) : parent.create_group(p)) as Group;
        parent.create_dataset({ name: parts[parts.length - 1], data: w.values, shape: w.shape, dtype: w.dtype ?? '<f' });
      }
    }
  } finally {
    f.close();
  }
  return file;
}

