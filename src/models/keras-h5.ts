/**
 * Keras HDF5 weight files, read into TF.js layers models: what keras.applications publishes
 * (`vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, ...), what `model.save_weights('x.h5')`
 * writes, and the weights of a whole model saved by `model.save('x.h5')`.
 *
 * The layout (Keras 2's HDF5 format; Keras 1 files have the same structure):
 *
 *   /                       attribute layer_names: the layers' names, in the model's order
 *   /<layer>                one group per layer, attribute weight_names: its weights, in order
 *   /<layer>/<weight name>  one dataset per weight, at the path weight_names gives, relative to
 *                           the layer's group: `block1_conv1/kernel:0` (tf.keras) is the dataset
 *                           /block1_conv1/block1_conv1/kernel:0; `block1_conv1_W_1:0` (Keras 1)
 *                           sits in the layer's group directly
 *
 * A full-model file has the same under the group /model_weights. Name lists are stored as
 * fixed-length byte strings (numpy 'S', h5py 2), as variable-length strings (h5py 3), and as an
 * empty float64 array when a layer has no weights; a list too long for one HDF5 object header is
 * split into `layer_names0`, `layer_names1`, ... All of these are read.
 *
 * Layouts: Keras keeps a Conv2D kernel as [kh, kw, in, out] and a Dense kernel as [in, out] (the
 * "tf_kernels" of the file names), exactly as TF.js does, so weights are copied as they are, with
 * no transposition (test/keras-h5.test.ts checks both against convolutions computed by hand).
 * Theano-ordered kernels (`th_kernels` files) are not supported.
 *
 * HDF5 is read with h5wasm (libhdf5 compiled to WebAssembly), imported on first use: the module
 * instantiates its WebAssembly when imported, which the rest of the tool does not need to pay for.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { downloadToFile, type DownloadProgress } from '../data/download.js';
import { cacheRoot } from '../data/locate.js';
import { stderrDownloadProgress } from '../data/progress.js';
import { UserError, errorMessage } from '../util/errors.js';

/** keras.applications' VGG19 convolutional base (include_top=False), ImageNet weights, 80 MB. */
export const VGG19_NOTOP_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5';
/** Its MD5, as keras/applications/vgg19.py passes it to get_file (Keras publishes no SHA-256 for it). */
export const VGG19_NOTOP_MD5 = '253f8cb515780f3b799900260a226db6';

export interface KerasWeight {
  /** The name the file gives it (an entry of weight_names), e.g. `block1_conv1/kernel:0`. */
  name: string;
  shape: number[];
  values: Float32Array;
  /** The dataset's type in the file; the values are float32 whatever it was. */
  fileDtype: 'float16' | 'float32' | 'float64';
}

export interface KerasLayerWeights {
  name: string;
  /** In the file's order (the layer's own weight order); empty for a layer without weights. */
  weights: KerasWeight[];
}

export interface KerasWeightFile {
  file: string;
  /** 'weights': save_weights (or keras.applications); 'model': a whole model saved with model.save. */
  format: 'weights' | 'model';
  /** The root attributes keras_version and backend, when the file has them. */
  kerasVersion?: string;
  backend?: string;
  /** Every layer of the file, in layer_names order. */
  layers: KerasLayerWeights[];
}

type H5 = typeof import('h5wasm/node');
type H5Group = InstanceType<H5['Group']>;
type H5Attrs = H5Group['attrs'];

let h5Loading: Promise<H5> | null = null;

/** h5wasm, ready, with HDF5's errors thrown as exceptions (by default libhdf5 prints its error stack to stderr). */
function h5wasm(): Promise<H5> {
  h5Loading ??= (async () => {
    const h5 = await import('h5wasm/node');
    const module = await h5.ready;
    module.activate_throwing_error_handler();
    return h5;
  })();
  return h5Loading;
}

/**
 * One line from an error h5wasm threw: libhdf5's error stack is many lines, from the API call
 * down to the cause; the last entry's message is the cause ("file signature not found").
 */
function hdf5Reason(e: unknown): string {
  const text = errorMessage(e);
  const causes = [...text.matchAll(/#\d+: .* in [\w.]+\(\): (.*)$/gm)].map((m) => m[1].trim());
  return causes.at(-1) ?? text.split('\n')[0];
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** HDF5's signature is at offset 0, or 512, 1024, 2048, ... when the file starts with a user block. */
async function hasHdf5Signature(file: string, size: number): Promise<boolean> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(HDF5_SIGNATURE.length);
    for (let offset = 0; offset + buf.length <= size; offset = offset === 0 ? 512 : offset * 2) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      if (bytesRead === buf.length && buf.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    await fh.close();
  }
}

/**
 * Why `file` cannot be read as `what`, or null: it must exist and be a regular file. A folder, a
 * named pipe (whose read would wait for a writer) and a device (/dev/zero never ends) each say so.
 */
export async function fileProblem(file: string, what: string): Promise<string | null> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${what} ${file} does not exist` : `cannot read ${what} ${file}: ${errorMessage(e)}`;
  }
  if (stat.isFile()) return null;
  const kind = stat.isDirectory() ? 'a directory' : stat.isFIFO() ? 'a named pipe (FIFO)' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : stat.isSocket() ? 'a socket' : 'not a regular file';
  return `${what} ${file} is ${kind}, not a file`;
}

async function requireReadableFile(file: string, what: string): Promise<number> {
  const problem = await fileProblem(file, what);
  if (problem) throw new UserError(problem);
  return (await fs.stat(file)).size;
}

/** A list of names stored as an attribute, in any of the encodings Keras/h5py use (see the file comment). */
function nameList(attrs: H5Attrs, name: string, where: string, file: string): string[] | null {
  const decode = (attrName: string): string[] => {
    const attr = attrs[attrName];
    const value = attr.value;
    let list: unknown[];
    if (typeof value === 'string') list = [value];
    else if (Array.isArray(value)) list = value;
    else if (ArrayBuffer.isView(value) && (value as ArrayLike<unknown>).length === 0) list = [];
    else throw new UserError(`${file}: the attribute ${attrName} of ${where} is not a list of names (${JSON.stringify(attr.dtype)})`);
    if (!list.every((s) => typeof s === 'string')) throw new UserError(`${file}: the attribute ${attrName} of ${where} is not a list of names`);
    // Fixed-length strings padded with spaces (HDF5's SPACEPAD) keep them when read.
    return attr.metadata.strpad === 2 ? (list as string[]).map((s) => s.trimEnd()) : (list as string[]);
  };
  if (name in attrs) return decode(name);
  if (!(`${name}0` in attrs)) return null;
  const out: string[] = [];
  for (let i = 0; `${name}${i}` in attrs; i++) out.push(...decode(`${name}${i}`));
  return out;
}

function stringAttr(attrs: H5Attrs, name: string): string | undefined {
  if (!(name in attrs)) return undefined;
  const v = attrs[name].value;
  return typeof v === 'string' ? v : Array.isArray(v) && v.length === 1 && typeof v[0] === 'string' ? v[0] : undefined;
}

function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** A weight dataset's values as float32. */
function readFloats(h5: H5, ds: InstanceType<H5['Dataset']>, what: string): { values: Float32Array; fileDtype: KerasWeight['fileDtype'] } {
  const meta = ds.metadata;
  const FLOAT = 1;
  if (meta.type !== FLOAT || ![2, 4, 8].includes(meta.size)) {
    throw new UserError(`${what} is of type ${JSON.stringify(ds.dtype)}; only float16, float32 and float64 weights can be loaded`);
  }
  if (meta.size === 2) {
    // h5wasm has no Float16Array to return: read the raw (little-endian) halves and widen them.
    const module = h5.Module;
    const bytes = meta.total_size * 2;
    const ptr = module._malloc(Math.max(bytes, 1));
    try {
      module.get_dataset_data(ds.file_id, ds.path, null, null, null, BigInt(ptr));
      const raw = module.HEAPU8.slice(ptr, ptr + bytes);
      return { values: float16ToFloat32(new Uint16Array(raw.buffer, 0, meta.total_size)), fileDtype: 'float16' };
    } finally {
      module._free(ptr);
    }
  }
  const value = ds.value;
  if (value instanceof Float32Array) return { values: value, fileDtype: 'float32' };
  if (value instanceof Float64Array) return { values: Float32Array.from(value), fileDtype: 'float64' };
  throw new UserError(`${what}: cannot read its values`);
}

/** Reads every layer's weights from a Keras HDF5 weights or model file (see the file comment). */
export async function readKerasWeights(file: string): Promise<KerasWeightFile> {
  const size = await requireReadableFile(file, 'weights file');
  const signed = await hasHdf5Signature(file, size).catch((e: unknown) => {
    throw new UserError(`cannot read weights file ${file}: ${errorMessage(e)}`);
  });
  if (!signed) throw new UserError(`${file} is not an HDF5 file (no HDF5 signature); expected Keras weights (.h5)`);
  const h5 = await h5wasm();
  let f: InstanceType<H5['File']>;
  try {
    f = new h5.File(path.resolve(file), 'r');
  } catch (e) {
    throw new UserError(`cannot open the HDF5 file ${file}: ${hdf5Reason(e)}`);
  }
  try {
    return readOpenFile(h5, f, file);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read the Keras weights in ${file}: ${hdf5Reason(e)}`);
  } finally {
    try {
      f.close();
    } catch {
      // closing a file that could not be read: nothing more to report
    }
  }
}

function readOpenFile(h5: H5, f: InstanceType<H5['File']>, file: string): KerasWeightFile {
  const rootAttrs = f.attrs;
  let root: H5Group = f;
  let format: KerasWeightFile['format'] = 'weights';
  let layerNames = nameList(rootAttrs, 'layer_names', 'the root group', file);
  if (layerNames === null) {
    const mw = f.keys().includes('model_weights') ? f.get('model_weights') : null;
    if (mw instanceof h5.Group) {
      layerNames = nameList(mw.attrs, 'layer_names', 'the group model_weights', file);
      if (layerNames === null) throw new UserError(`${file}: the group model_weights has no attribute layer_names: not a Keras model file`);
      root = mw;
      format = 'model';
    } else {
      const keys = f.keys();
      const keras3 = keys.includes('layers') || keys.includes('vars') || keys.includes('_layer_checkpoint_dependencies');
      throw new UserError(
        keras3
          ? `${file}: a Keras 3 .weights.h5 file (groups ${keys.join(', ')}), whose layout is not supported; save the weights in Keras 2's HDF5 layout (tf.keras, or keras.applications' .h5 files)`
          : `${file}: an HDF5 file but not a Keras weights file (no attribute layer_names at its root nor in a group model_weights)`,
      );
    }
  }
  const seen = new Set<string>();
  const groups = new Set(root.keys());
  const layers: KerasLayerWeights[] = [];
  for (const layerName of layerNames) {
    if (seen.has(layerName)) throw new UserError(`${file}: layer_names lists ${layerName} twice`);
    seen.add(layerName);
    const g = groups.has(layerName) ? root.get(layerName) : null;
    if (!(g instanceof h5.Group)) throw new UserError(`${file}: layer_names lists ${layerName}, but the file has no group ${root.path === '/' ? '' : root.path}/${layerName}`);
    const weightNames = nameList(g.attrs, 'weight_names', `layer ${layerName}`, file);
    if (weightNames === null) throw new UserError(`${file}: the group of layer ${layerName} has no attribute weight_names`);
    const weights: KerasWeight[] = weightNames.map((name) => {
      const what = `${file}: weight ${name} of layer ${layerName}`;
      let ds;
      try {
        ds = g.get(name);
      } catch {
        ds = null;
      }
      if (!(ds instanceof h5.Dataset)) throw new UserError(`${what}: no dataset ${g.path}/${name}`);
      const shape = ds.shape ?? [];
      const { values, fileDtype } = readFloats(h5, ds, what);
      return { name, shape, values, fileDtype };
    });
    layers.push({ name: layerName, weights });
  }
  return { file, format, kerasVersion: stringAttr(rootAttrs, 'keras_version'), backend: stringAttr(rootAttrs, 'backend'), layers };
}

export interface LoadKerasWeightsOptions {
  /**
   * Layers of the model that may be absent from the file and keep their own values (a head put on
   * a notop backbone, say): a list of names, or true for any (Keras's `load_weights(by_name=True)`).
   * Without it, a model layer with weights that the file lacks is an error.
   */
  allowMissing?: boolean | readonly string[];
  /** Keras's skip_mismatch is not offered: a layer whose weights do not fit is always an error. */
  skipMismatch?: false;
}

export interface LoadReport {
  file: string;
  format: KerasWeightFile['format'];
  /** The model's layers given weights from the file, in the file's order; a layer of a nested model as `outer/inner`. */
  loaded: string[];
  /** Layers of the file with weights that the model has no layer for: not used. (Layers without weights, like Keras's input layer, are not listed.) */
  notInModel: string[];
  /** The model's layers with weights that the file has none for (allowed by allowMissing): they keep their own values. */
  notInFile: string[];
  /** Weight arrays set, and the numbers in them. */
  weights: number;
  params: number;
}

type Layer = tfl.LayersModel['layers'][number];

const list = (names: readonly string[], max = 8) => (names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`);
const shapeText = (shape: readonly (number | null)[]) => `[${shape.join(', ')}]`;

/**
 * The model's layers that the file's layer names select, by name, as Keras's by-name loading
 * does. A layer that is itself a model (a nested backbone, say) is matched whole when the file
 * has its name, and otherwise searched for layers of the file's names; the path says where.
 */
function matchLayers(model: tfl.LayersModel, fileNames: ReadonlySet<string>): { matched: Map<string, { layer: Layer; path: string }>; missing: string[] } {
  const matched = new Map<string, { layer: Layer; path: string }>();
  const missing: string[] = [];
  const visit = (layers: readonly Layer[], prefix: string) => {
    for (const layer of layers) {
      const layerPath = prefix + layer.name;
      if (fileNames.has(layer.name)) {
        const before = matched.get(layer.name);
        if (before) throw new UserError(`the model has two layers named ${layer.name} (${before.path} and ${layerPath}): the file's weights cannot be matched by name`);
        matched.set(layer.name, { layer, path: layerPath });
      } else if ('layers' in layer && Array.isArray((layer as tfl.LayersModel).layers)) {
        visit((layer as tfl.LayersModel).layers, `${layerPath}/`);
      } else if (layer.weights.length > 0) {
        missing.push(layerPath);
      }
    }
  };
  visit(model.layers, '');
  return { matched, missing };
}

/**
 * Sets the weights of `model`'s layers from a Keras HDF5 file, layer by layer, matched by name;
 * each layer's weights in the layer's own order, each shape checked. Everything is checked before
 * anything is set: on an error the model is left as it was.
 */
export async function loadKerasWeights(model: tfl.LayersModel, file: string, opts: LoadKerasWeightsOptions = {}): Promise<LoadReport> {
  const wf = await readKerasWeights(file);
  const fileNames = new Set(wf.layers.map((l) => l.name));
  const { matched, missing } = matchLayers(model, fileNames);

  const allowed = opts.allowMissing;
  if (Array.isArray(allowed)) {
    const known = new Set<string>();
    const collect = (layers: readonly Layer[], prefix: string) => {
      for (const l of layers) {
        known.add(l.name).add(prefix + l.name);
        if ('layers' in l && Array.isArray((l as tfl.LayersModel).layers)) collect((l as tfl.LayersModel).layers, `${prefix}${l.name}/`);
      }
    };
    collect(model.layers, '');
    const unknown = allowed.filter((n) => !known.has(n));
    if (unknown.length) throw new UserError(`allowMissing names ${list(unknown)}, which the model has no layer of`);
  }
  const isAllowed = (p: string) => allowed === true || (Array.isArray(allowed) && (allowed.includes(p) || allowed.includes(p.split('/').at(-1) as string)));
  const refused = missing.filter((p) => !isAllowed(p));
  if (refused.length) {
    throw new UserError(`${file} has no weights for the model's layer${refused.length > 1 ? 's' : ''} ${list(refused)} (the file's layers with weights: ${list(wf.layers.filter((l) => l.weights.length).map((l) => l.name)) || 'none'})`);
  }

  const plan: { variable: tfl.LayerVariable; weight: KerasWeight }[] = [];
  const loaded: string[] = [];
  const notInModel: string[] = [];
  for (const fl of wf.layers) {
    const m = matched.get(fl.name);
    if (!m) {
      if (fl.weights.length) notInModel.push(fl.name);
      continue;
    }
    const variables = m.layer.weights;
    if (variables.length !== fl.weights.length) {
      throw new UserError(
        `layer ${m.path}: the model's layer has ${variables.length} weight${variables.length === 1 ? '' : 's'}` +
          `${variables.length ? ` (${variables.map((v) => v.originalName).join(', ')})` : ''}, ${file} has ${fl.weights.length}` +
          `${fl.weights.length ? ` (${fl.weights.map((w) => w.name).join(', ')})` : ''}`,
      );
    }
    fl.weights.forEach((w, i) => {
      const v = variables[i];
      const same = v.shape.length === w.shape.length && v.shape.every((d, k) => d === w.shape[k]);
      if (!same) throw new UserError(`layer ${m.path}, weight ${w.name}: ${file} holds shape ${shapeText(w.shape)}, the model's ${v.originalName} has shape ${shapeText(v.shape)}`);
      plan.push({ variable: v, weight: w });
    });
    if (variables.length) loaded.push(m.path);
  }

  let params = 0;
  for (const { variable, weight } of plan) {
    const t = tfc.tensor(weight.values, weight.shape, 'float32');
    // The variable takes the tensor's data (and counts a reference to it): disposing ours keeps it.
    variable.write(t);
    t.dispose();
    params += weight.values.length;
  }
  return { file, format: wf.format, loaded, notInModel, notInFile: missing, weights: plan.length, params };
}

// ---------------------------------------------------------------------------------------------
// Getting the file

export interface ResolveWeightsOptions {
  /** Expected SHA-256 (64 hex digits) of the file. */
  sha256?: string;
  /** Expected MD5 (32 hex digits), as Keras's get_file takes for keras.applications' files. */
  md5?: string;
  /** Where downloads are kept; default `<cache root>/weights` (cache root: $FASHION_CNN_CACHE, else ~/.cache/fashion-cnn). */
  cacheDir?: string;
  /** One line per step (downloading, cached, verified); default: stderr. */
  log?: (line: string) => void;
  /** Download progress; default a bar on a terminal's stderr, a few lines otherwise. */
  onProgress?: DownloadProgress;
  timeoutMs?: number;
  /** For the cache root; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The download's file name in the cache; default weightsCacheName(url), one per URL. */
  cacheFile?: string;
}

type Checksum = { algorithm: 'sha256' | 'md5'; hex: string };

function checksums(opts: ResolveWeightsOptions): Checksum[] {
  const out: Checksum[] = [];
  for (const [algorithm, digits] of [['sha256', 64], ['md5', 32]] as const) {
    const hex = opts[algorithm];
    if (hex === undefined) continue;
    if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) throw new UserError(`invalid ${algorithm.toUpperCase()} "${hex}" (expected ${digits} hexadecimal digits)`);
    out.push({ algorithm, hex: hex.toLowerCase() });
  }
  return out;
}

async function fileDigest(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** The first checksum the file fails, or null when it passes them all. */
async function failedChecksum(file: string, sums: readonly Checksum[]): Promise<{ sum: Checksum; actual: string } | null> {
  for (const sum of sums) {
    const actual = await fileDigest(file, sum.algorithm);
    if (actual !== sum.hex) return { sum, actual };
  }
  return null;
}

const verified = (sums: readonly Checksum[]) => (sums.length ? `${sums.map((s) => s.algorithm.toUpperCase()).join(' and ')} verified` : 'no checksum given');

/** Where a weights source points: a local file (a path or a file: URL), or an http(s) URL to download. */
export type WeightsSource = { kind: 'file'; file: string } | { kind: 'url'; url: URL };

/** Reads a `--weights` source; an unsupported scheme or an invalid URL is a one-line error. */
export function parseWeightsSource(source: string): WeightsSource {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(source)?.[1].toLowerCase();
  if (scheme === undefined) return { kind: 'file', file: path.resolve(source) };
  if (scheme === 'file') {
    try {
      return { kind: 'file', file: fileURLToPath(source) };
    } catch (e) {
      throw new UserError(`invalid file URL "${source}" (${errorMessage(e)})`);
    }
  }
  if (scheme !== 'http' && scheme !== 'https') throw new UserError(`weights source "${source}": only local paths, file:// and http(s) URLs are supported`);
  try {
    return { kind: 'url', url: new URL(source) };
  } catch {
    throw new UserError(`invalid weights URL "${source}"`);
  }
}

/**
 * The name of a URL's download in the cache: a digest of the whole URL, then the URL's file
 * name. Two URLs never share a file, whatever their file names (one named like Keras's VGG-19 file
 * does not take the ImageNet weights' place).
 */
export function weightsCacheName(url: URL): string {
  let name: string;
  try {
    name = decodeURIComponent(url.pathname);
  } catch {
    name = url.pathname;
  }
  name = path.basename(name).replace(/[^\w.+-]/g, '_') || 'weights.h5';
  return `${createHash('sha256').update(url.href).digest('hex').slice(0, 16)}-${name}`;
}

/** Why a cached download cannot be used (a checksum it fails, or it is no HDF5 file), or null. */
async function cachedFileProblem(file: string, sums: readonly Checksum[]): Promise<string | null> {
  const bad = await failedChecksum(file, sums);
  if (bad) return `has ${bad.sum.algorithm.toUpperCase()} ${bad.actual}, expected ${bad.sum.hex}`;
  const { size } = await fs.stat(file);
  return (await hasHdf5Signature(file, size)) ? null : 'is not an HDF5 file';
}

/**
 * The local path of a weights file: a path (or file: URL) is used where it is, an http(s) URL is
 * downloaded once into the cache and found there afterwards. A download is kept only when it
 * passes its checksums and reads as Keras weights; a cached file is checked again on every use
 * (its checksums when known, its HDF5 signature always) and downloaded again when it fails.
 */
export async function resolveWeightsFile(source: string, opts: ResolveWeightsOptions = {}): Promise<string> {
  const sums = checksums(opts);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const where = parseWeightsSource(source);
  if (where.kind === 'file') {
    const { file } = where;
    await requireReadableFile(file, 'weights file');
    const bad = await failedChecksum(file, sums);
    if (bad) throw new UserError(`weights file ${file}: ${bad.sum.algorithm.toUpperCase()} is ${bad.actual}, expected ${bad.sum.hex}`);
    return file;
  }
  const { url } = where;
  const dir = opts.cacheDir !== undefined ? path.resolve(opts.cacheDir) : path.join(cacheRoot(opts.env ?? process.env), 'weights');
  const dest = path.join(dir, opts.cacheFile ?? weightsCacheName(url));

  const cached = await fs.stat(dest).catch(() => null);
  if (cached && !cached.isFile()) throw new UserError(`the weights cache ${dest} is ${cached.isDirectory() ? 'a directory' : 'not a regular file'}: remove it, then run again`);
  if (cached) {
    const problem = await cachedFileProblem(dest, sums);
    if (!problem) {
      log(`using the cached ${dest} (${verified(sums)}; not downloaded again)`);
      return dest;
    }
    log(`the cached ${dest} ${problem}: downloading it again`);
  }
  log(`downloading ${url.href} to ${dest}`);
  const check = async (tmp: string) => {
    const bad = await failedChecksum(tmp, sums);
    if (bad) throw new UserError(`${url.href}: checksum mismatch: ${bad.sum.algorithm.toUpperCase()} of the download is ${bad.actual}, expected ${bad.sum.hex}; it was not saved`);
    try {
      await readKerasWeights(tmp);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      throw new UserError(`${url.href}: ${e.message.split(tmp).join('the download')}; it was not saved`);
    }
  };
  const { bytes } = await downloadToFile(url.href, dest, { onProgress: opts.onProgress ?? stderrDownloadProgress(), timeoutMs: opts.timeoutMs, check });
  log(`saved ${dest} (${(bytes / 1e6).toFixed(1)} MB, ${verified(sums)})`);
  return dest;
}
