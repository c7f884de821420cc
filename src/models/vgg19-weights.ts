/**
 * Where vgg19's ImageNet weights come from: Keras's own file
 * (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), found in this order:
 *   1. a path or URL the user gives (--weights);
 *   2. $FASHION_CNN_VGG19_WEIGHTS (a path);
 *   3. the download cache (<cache>/weights/, see cacheRoot), checked against Keras's MD5;
 *   4. Keras's URL, downloaded into that cache with its checksum checked.
 * Other URLs are kept in the cache under a name of their own (see weightsCacheName).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { cacheRoot } from '../data/locate.js';
import { UserError } from '../util/errors.js';
import { loadKerasWeights, resolveWeightsFile, VGG19_NOTOP_MD5, VGG19_NOTOP_URL } from './keras-h5.js';

export const VGG19_WEIGHTS_ENV = 'FASHION_CNN_VGG19_WEIGHTS';
export const VGG19_WEIGHTS_FILE = path.basename(new URL(VGG19_NOTOP_URL).pathname);

export function weightsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheRoot(env), 'weights');
}

const exists = (file: string) => fs.access(file).then(() => true, () => false);

/** The local file of vgg19's ImageNet weights when one is here already (no download), else null. */
export async function localVgg19Weights(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const fromEnv = env[VGG19_WEIGHTS_ENV];
  if (fromEnv) return (await exists(fromEnv)) ? path.resolve(fromEnv) : null;
  const cached = path.join(weightsCacheDir(env), VGG19_WEIGHTS_FILE);
  return (await exists(cached)) ? cached : null;
}

/** One line for users without the weights: how to get them. */
export function vgg19WeightsHelp(env: NodeJS.ProcessEnv = process.env): string {
  return `vgg19 needs Keras's ImageNet weights (${VGG19_WEIGHTS_FILE}, 80 MB): set $${VGG19_WEIGHTS_ENV} to the file, put it in ${weightsCacheDir(env)}, or pass --weights PATH_OR_URL (--weights random trains on untrained features, as a speed check)`;
}

/**
 * The file of the weights `source` names, found or downloaded (see the file comment). The cache's
 * copy of the ImageNet weights (downloaded, or put there by hand) is checked against Keras's MD5
 * on every use, and downloaded again when it fails; so is a download of Keras's URL given as
 * --weights. A file named by $FASHION_CNN_VGG19_WEIGHTS or --weights PATH is the user's to vouch for.
 */
export async function findVgg19Weights(source: string, log: (line: string) => void): Promise<string> {
  if (source !== 'imagenet') {
    const known = source === VGG19_NOTOP_URL ? { md5: VGG19_NOTOP_MD5 } : {};
    return resolveWeightsFile(source, { ...known, cacheDir: weightsCacheDir(), log });
  }
  const fromEnv = process.env[VGG19_WEIGHTS_ENV];
  if (fromEnv) {
    if (!(await exists(fromEnv))) throw new UserError(`$${VGG19_WEIGHTS_ENV} names ${fromEnv}, which does not exist`);
    return path.resolve(fromEnv);
  }
  if (!(await localVgg19Weights())) log(`vgg19: ImageNet weights not found locally; downloading ${VGG19_NOTOP_URL}`);
  try {
    return await resolveWeightsFile(VGG19_NOTOP_URL, { md5: VGG19_NOTOP_MD5, cacheDir: weightsCacheDir(), cacheFile: VGG19_WEIGHTS_FILE, log });
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    throw new UserError(`${e.message}\n${vgg19WeightsHelp()}`);
  }
}

/** Finds (or downloads) the weights `source` names and loads them into a freshly built VGG-19 base; returns the file. */
export async function loadVgg19Weights(model: tfl.LayersModel, source: string, log: (line: string) => void): Promise<string> {
  const file = await findVgg19Weights(source, log);
  await loadVgg19File(model, file, log);
  return file;
}

/** Loads a found weights file into a VGG-19 base. */
export async function loadVgg19File(model: tfl.LayersModel, file: string, log: (line: string) => void): Promise<void> {
  const report = await loadKerasWeights(model, file);
  log(`vgg19: loaded ${report.loaded.length} layers of ImageNet weights from ${file}`);
}
