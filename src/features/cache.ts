/**
 * The on-disk cache of frozen features: one pair of files per (extractor, images) key, in
 * <cache>/features/ (see cacheRoot): KEY.f32 (the features, float32 little-endian, image after
 * image) and KEY.json (what they are, with the SHA-256 of KEY.f32). The .json is written last and
 * is what makes an entry exist, so an interrupted write leaves no entry that looks whole.
 *
 * An entry is verified before it is trusted: the .f32 is hashed as it is read into memory (one
 * read) and must match the digest taken while the features were computed, and hold no NaN or
 * infinite value. A damaged entry is reported (with why) and computed again, never used.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { cacheRoot } from '../data/locate.js';
import type { ImageShape } from '../data/types.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { errorMessage } from '../util/errors.js';
import { sameJson } from '../util/same-json.js';

/** Bumped when the way features are computed or stored changes, so that old entries are not reused (it is part of the key). */
export const CACHE_FORMAT = 2;

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
  /** SHA-256 (hex) of the .f32 file's bytes, taken batch by batch as the features were computed. */
  sha256: string;
}

/** What the cache holds for a key. */
export type CachedFeatures =
  | { kind: 'entry'; x: Float32Array; meta: FeatureEntryMeta }
  /** No entry: computed, nothing to report. */
  | { kind: 'none' }
  /** An entry that cannot be trusted, and why (one line naming the file). */
  | { kind: 'damaged'; reason: string };

export function featureCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheRoot(env), 'features');
}

const bytesOf = (x: Float32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

export function digestPixels(x: Float32Array): string {
  return createHash('sha256').update(bytesOf(x)).digest('hex').slice(0, 24);
}

export function featureKey(parts: FeatureKeyParts): string {
  return createHash('sha256').update(JSON.stringify({ format: CACHE_FORMAT, ...parts })).digest('hex').slice(0, 24);
}

/**
 * The digest of features as they are produced, batch after batch in file order: the SHA-256 of
 * the bytes the .f32 file holds, and how many values are NaN or infinite.
 */
export class FeatureDigest {
  private readonly hash: Hash = createHash('sha256');
  nonFinite = 0;

  update(values: Float32Array): void {
    this.hash.update(bytesOf(values));
    this.nonFinite += countNonFinite(values);
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

function countNonFinite(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) n++;
  return n;
}

const files = (dir: string, key: string) => ({ data: path.join(dir, `${key}.f32`), meta: path.join(dir, `${key}.json`) });

/**
 * Opens a file of the cache for reading, or says why it cannot be one: O_NONBLOCK so that a named
 * pipe in its place does not block the open, and the type checked on the open file.
 */
async function openEntryFile(file: string): Promise<{ fh: fs.FileHandle; size: number } | { missing: true } | { problem: string }> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { missing: true } : { problem: `${file} cannot be read (${errorMessage(e)})` };
  }
  const stat = await fh.stat();
  if (stat.isFile()) return { fh, size: stat.size };
  await fh.close();
  return { problem: `${file} is ${stat.isDirectory() ? 'a directory' : 'not a regular file (a pipe or device?)'}, not a cache file` };
}

/** Reads a whole file into `into` (its exact size), hashing it on the way: one read of the data. */
async function readHashed(fh: fs.FileHandle, into: Uint8Array): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const chunk = 8 * 1024 * 1024;
  let off = 0;
  while (off < into.length) {
    const { bytesRead } = await fh.read(into, off, Math.min(chunk, into.length - off), off);
    if (bytesRead === 0) break;
    hash.update(into.subarray(off, off + bytesRead));
    off += bytesRead;
  }
  return { bytes: off, sha256: hash.digest('hex') };
}

function isMeta(v: unknown): v is FeatureEntryMeta {
  const m = v as Partial<FeatureEntryMeta> | null;
  return typeof m === 'object' && m !== null && typeof m.sha256 === 'string' && typeof m.count === 'number' && Array.isArray(m.shape) && typeof m.imagesPerSecond === 'number';
}

/** The cached features of a key, verified (see the file comment); a damaged entry says why. */
export async function readFeatures(dir: string, key: string, count: number, shape: ImageShape): Promise<CachedFeatures> {
  const f = files(dir, key);
  const metaFile = await openEntryFile(f.meta);
  if ('missing' in metaFile) return { kind: 'none' };
  if ('problem' in metaFile) return { kind: 'damaged', reason: metaFile.problem };
  let meta: unknown;
  try {
    meta = JSON.parse(await metaFile.fh.readFile('utf8'));
  } catch {
    return { kind: 'damaged', reason: `${f.meta} is not valid JSON` };
  } finally {
    await metaFile.fh.close();
  }
  if (!isMeta(meta) || meta.format !== CACHE_FORMAT || meta.key !== key || meta.count !== count || !sameJson(meta.shape, shape)) {
    return { kind: 'damaged', reason: `${f.meta} does not describe these features (damaged?)` };
  }

  const expected = count * shape[0] * shape[1] * shape[2] * 4;
  const dataFile = await openEntryFile(f.data);
  if ('missing' in dataFile) return { kind: 'damaged', reason: `${f.data} is missing` };
  if ('problem' in dataFile) return { kind: 'damaged', reason: dataFile.problem };
  const x = new Float32Array(expected / 4);
  let read: { bytes: number; sha256: string };
  try {
    if (dataFile.size !== expected) return { kind: 'damaged', reason: `${f.data} holds ${dataFile.size} bytes, not the ${expected} of ${count} images' features` };
    read = await readHashed(dataFile.fh, bytesOf(x));
  } finally {
    await dataFile.fh.close();
  }
  if (read.bytes !== expected) return { kind: 'damaged', reason: `${f.data} holds ${read.bytes} bytes, not the ${expected} of ${count} images' features` };
  if (read.sha256 !== meta.sha256) return { kind: 'damaged', reason: `${f.data} does not match its digest (damaged?)` };
  const bad = countNonFinite(x);
  if (bad > 0) return { kind: 'damaged', reason: `${f.data} holds ${bad} NaN or infinite values` };
  return { kind: 'entry', x, meta };
}

/**
 * Writes an entry: the features, then the .json that makes it exist (each atomically). Returns
 * null, or why the entry could not be written (a folder in the way, a full disk): the cache only
 * saves time, so its caller goes on without it.
 */
export async function writeFeatures(dir: string, meta: FeatureEntryMeta, x: Float32Array): Promise<string | null> {
  const f = files(dir, meta.key);
  for (const [file, write] of [[f.data, () => writeFileAtomic(f.data, bytesOf(x))], [f.meta, () => writeJsonAtomic(f.meta, meta)]] as const) {
    try {
      await write();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!code) throw e;
      return code === 'EISDIR' ? `${file} is a directory` : `cannot write ${file}: ${code}`;
    }
  }
  return null;
}

/** What `cachedOrComputed` gives: the values, and where they came from. */
export interface CachedValues {
  x: Float32Array;
  cached: boolean;
  /** Images per second of the computation (the one that made the entry, when reused). */
  imagesPerSecond: number;
  file: string;
}

/**
 * The values of `parts` for `count` images from the cache, verified, or else computed (each batch
 * fed to the digest as it comes) and written to it. A damaged entry is reported and recomputed;
 * values with NaN or infinities are refused (`nonFinite` says what failed) and not cached.
 */
export async function cachedOrComputed(
  dir: string,
  parts: FeatureKeyParts,
  count: number,
  shape: ImageShape,
  compute: (digest: FeatureDigest) => Promise<Float32Array>,
  what: { label: string; log: (line: string) => void; nonFinite: (n: number) => Error },
): Promise<CachedValues> {
  const key = featureKey(parts);
  const file = `${dir}/${key}.f32`;
  const cached = await readFeatures(dir, key, count, shape);
  if (cached.kind === 'entry') {
    what.log(`${what.label} (${count} images) reused from the cache ${file}`);
    return { x: cached.x, cached: true, imagesPerSecond: cached.meta.imagesPerSecond, file };
  }
  if (cached.kind === 'damaged') what.log(`${what.label} cache ${cached.reason}: recomputing`);
  const t0 = performance.now();
  const digest = new FeatureDigest();
  const x = await compute(digest);
  if (digest.nonFinite > 0) throw what.nonFinite(digest.nonFinite);
  const seconds = (performance.now() - t0) / 1000;
  const imagesPerSecond = count / Math.max(seconds, 1e-6);
  const computed = `${what.label} (${count} images) computed in ${seconds.toFixed(1)} s (${imagesPerSecond.toFixed(0)} img/s)`;
  const meta = { format: CACHE_FORMAT, key, parts, count, shape, createdAt: new Date().toISOString(), imagesPerSecond, sha256: digest.hex() };
  const unwritten = await writeFeatures(dir, meta, x);
  what.log(unwritten ? `${computed}, not cached (${unwritten})` : `${computed}, cached in ${file}`);
  return { x, cached: false, imagesPerSecond, file };
}
