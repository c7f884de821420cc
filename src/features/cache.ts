/**
 * The on-disk cache of frozen features: one pair of files per (extractor, images) key, in
 * <cache>/features/ (see cacheRoot): KEY.f32 (the features, float32 little-endian, image after
 * image) and KEY.json (what they are). The .json is written last and is what makes an entry
 * exist, so an interrupted write leaves no entry that looks whole.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cacheRoot } from '../data/locate.js';
import type { ImageShape } from '../data/types.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';

/** Bumped when the way features are computed changes, so that old entries are not reused. */
export const CACHE_FORMAT = 1;

export interface FeatureKeyParts {
  /** The extractor: backbone settings (source, layer, input size, pooling, preprocessing) and what fixes its weights. */
  extractor: unknown;
  /** A digest of the images' pixels. */
  images: string;
}

export interface FeatureEntryMeta {
  format: number;
  key: string;
  parts: FeatureKeyParts;
  count: number;
  shape: ImageShape;
  createdAt: string;
  /** Images per second of the extraction that made the entry. */
  imagesPerSecond: number;
}

export function featureCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheRoot(env), 'features');
}

export function digestPixels(x: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)).digest('hex').slice(0, 24);
}

export function featureKey(parts: FeatureKeyParts): string {
  return createHash('sha256').update(JSON.stringify({ format: CACHE_FORMAT, ...parts })).digest('hex').slice(0, 24);
}

const files = (dir: string, key: string) => ({ data: path.join(dir, `${key}.f32`), meta: path.join(dir, `${key}.json`) });

/** The cached features of a key, or null when there is no whole entry (a damaged one is treated as absent). */
export async function readFeatures(dir: string, key: string, count: number, shape: ImageShape): Promise<{ x: Float32Array; meta: FeatureEntryMeta } | null> {
  const f = files(dir, key);
  let meta: FeatureEntryMeta;
  try {
    meta = JSON.parse(await fs.readFile(f.meta, 'utf8')) as FeatureEntryMeta;
  } catch {
    return null;
  }
  const per = shape[0] * shape[1] * shape[2];
  if (meta.format !== CACHE_FORMAT || meta.key !== key || meta.count !== count || JSON.stringify(meta.shape) !== JSON.stringify(shape)) return null;
  const bytes = await fs.readFile(f.data).catch(() => null);
  if (!bytes || bytes.byteLength !== count * per * 4) return null;
  const x = new Float32Array(count * per);
  new Uint8Array(x.buffer).set(bytes);
  return { x, meta };
}

export async function writeFeatures(dir: string, meta: FeatureEntryMeta, x: Float32Array): Promise<void> {
  const f = files(dir, meta.key);
  await writeFileAtomic(f.data, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  await writeJsonAtomic(f.meta, meta);
}
