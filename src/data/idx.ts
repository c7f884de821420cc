/**
 * Reader for the IDX format Fashion-MNIST ships in (http://yann.lecun.com/exdb/mnist/):
 * a 4-byte magic (0, 0, data type, number of dimensions), one big-endian uint32 per dimension,
 * then the items. Hand-written because it is a dozen lines and the npm IDX readers neither
 * validate nor explain what is wrong with a bad file.
 */
import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import path from 'node:path';
import { UserError, errorMessage } from '../util/errors.js';
import { IMAGE_SIZE, NUM_CLASSES, type ImageSet } from './types.js';

const gunzipAsync = promisify(gunzip);

const IDX_UBYTE = 0x08;
export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxArray {
  /** Dimensions from the header; dims[0] is the item count. */
  dims: number[];
  /** The items, row-major, without the header (a fresh array starting at offset 0). */
  data: Uint8Array;
  /** MD5 of the whole uncompressed file, header included (what the official checksums cover). */
  md5: string;
  gzipped: boolean;
}

/**
 * The most bytes a gzipped IDX file may inflate to: 64 MiB holds 80,000 28x28 images, more than
 * any Fashion-MNIST file. zlib stops at the limit, so a small file that would inflate to gigabytes
 * is refused after 64 MiB of work instead of exhausting memory.
 */
export const MAX_INFLATED_BYTES = 64 * 2 ** 20;

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** Reads a file and gunzips it if it starts with the gzip magic bytes (1f 8b), whatever its name. */
export async function readMaybeGzip(file: string): Promise<{ bytes: Buffer; gzipped: boolean }> {
  const name = path.basename(file);
  const failure = (e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return new UserError(`${file}: file not found`);
    return new UserError(`${file}: cannot read: ${errorMessage(e)}`);
  };
  // Checked before reading: a named pipe would block the read forever, and a huge file fill memory.
  const stat = await fs.stat(file).catch((e: unknown) => {
    throw failure(e);
  });
  if (stat.isDirectory()) throw new UserError(`${file}: is a directory, expected an IDX file`);
  if (!stat.isFile()) throw new UserError(`${file}: not a regular file (a pipe or device?), expected an IDX file`);
  if (stat.size > MAX_INFLATED_BYTES) {
    throw new UserError(`${name}: ${(stat.size / 2 ** 20).toFixed(0)} MiB, larger than any Fashion-MNIST file (at most ${MAX_INFLATED_BYTES / 2 ** 20} MiB; refused)`);
  }
  let raw: Buffer;
  try {
    raw = await fs.readFile(file);
  } catch (e) {
    throw failure(e);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return { bytes: await gunzipAsync(raw, { maxOutputLength: MAX_INFLATED_BYTES }), gzipped: true };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw new UserError(`${name}: inflates to more than ${MAX_INFLATED_BYTES / 2 ** 20} MiB, larger than any Fashion-MNIST file (refused)`);
      }
      throw new UserError(`${name}: corrupt gzip data (${errorMessage(e)})`);
    }
  }
  if (name.endsWith('.gz') && raw.length >= 4 && !(raw[0] === 0 && raw[1] === 0)) {
    throw new UserError(`${name}: neither gzip data (no 1f 8b magic) nor an IDX file (magic ${hex(raw.readUInt32BE(0))})`);
  }
  return { bytes: raw, gzipped: false };
}

/** Parses and validates IDX bytes; `name` is used in error messages. */
export function parseIdx(bytes: Uint8Array, name: string): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4) throw new UserError(`${name}: too short to be an IDX file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[3] === 0) {
    throw new UserError(`${name}: not an IDX file: bad magic number ${hex(magic)} (expected ${hex(IDX_IMAGES_MAGIC)} for images or ${hex(IDX_LABELS_MAGIC)} for labels)`);
  }
  if (bytes[2] !== IDX_UBYTE) {
    throw new UserError(`${name}: unsupported IDX data type 0x${bytes[2].toString(16).padStart(2, '0')} in magic ${hex(magic)} (only unsigned bytes, 0x08, are supported)`);
  }
  const ndims = bytes[3];
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    throw new UserError(`${name}: truncated: the header declares ${ndims} dimensions but the file has only ${bytes.length} bytes`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i));
  const itemSize = dims.slice(1).reduce((a, b) => a * b, 1);
  const expected = dims[0] * itemSize;
  const actual = bytes.length - headerLength;
  if (actual < expected) {
    const shape = ndims > 1 ? ` of ${dims.slice(1).join('x')} bytes (${expected} bytes)` : '';
    throw new UserError(`${name}: truncated: header says ${dims[0]} items${shape} but only ${actual} bytes of data`);
  }
  if (actual > expected) {
    throw new UserError(`${name}: trailing garbage: ${actual - expected} unexpected bytes after the ${dims[0]} items the header declares`);
  }
  // Copied so the result owns a buffer of its own (Buffer#slice would alias the whole file).
  return { dims, data: new Uint8Array(bytes.subarray(headerLength)) };
}

/** Reads any unsigned-byte IDX file, gzip-compressed or plain. */
export async function readIdx(file: string): Promise<IdxArray> {
  const { bytes, gzipped } = await readMaybeGzip(file);
  const md5 = createHash('md5').update(bytes).digest('hex');
  return { ...parseIdx(bytes, path.basename(file)), md5, gzipped };
}

export interface ImagesIdx extends IdxArray {
  count: number;
  rows: number;
  cols: number;
}

/** Reads an image file (magic 0x00000803) and checks the images have the expected size. */
export async function readImagesIdx(file: string, size: { rows: number; cols: number } = { rows: IMAGE_SIZE, cols: IMAGE_SIZE }): Promise<ImagesIdx> {
  const idx = await readIdx(file);
  const name = path.basename(file);
  if (idx.dims.length !== 3) {
    throw new UserError(`${name}: expected an IDX image file (magic ${hex(IDX_IMAGES_MAGIC)}, 3 dimensions) but found ${idx.dims.length} dimension(s) (magic ${hex(0x0800 + idx.dims.length)})${idx.dims.length === 1 ? ', a label file?' : ''}`);
  }
  const [count, rows, cols] = idx.dims;
  if (rows !== size.rows || cols !== size.cols) {
    throw new UserError(`${name}: wrong image size ${rows}x${cols}, expected ${size.rows}x${size.cols}`);
  }
  return { ...idx, count, rows, cols };
}

/** Reads a label file (magic 0x00000801) and checks every label is a class index. */
export async function readLabelsIdx(file: string, numClasses = NUM_CLASSES): Promise<IdxArray & { count: number }> {
  const idx = await readIdx(file);
  const name = path.basename(file);
  if (idx.dims.length !== 1) {
    throw new UserError(`${name}: expected an IDX label file (magic ${hex(IDX_LABELS_MAGIC)}, 1 dimension) but found ${idx.dims.length} dimensions (magic ${hex(0x0800 + idx.dims.length)})${idx.dims.length === 3 ? ', an image file?' : ''}`);
  }
  const labels = idx.data;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new UserError(`${name}: label ${labels[i]} of item ${i} is out of range 0..${numClasses - 1}`);
    }
  }
  return { ...idx, count: idx.dims[0] };
}

export interface ImageSetFiles {
  set: ImageSet;
  imagesMd5: string;
  labelsMd5: string;
}

/** Reads a pair of image and label files and checks they describe the same number of items. */
export async function readImageSet(imagesFile: string, labelsFile: string): Promise<ImageSetFiles> {
  const [images, labels] = await Promise.all([readImagesIdx(imagesFile), readLabelsIdx(labelsFile)]);
  if (images.count === 0) throw new UserError(`${path.basename(imagesFile)}: holds no images (the header declares 0 items)`);
  if (images.count !== labels.count) {
    throw new UserError(`${path.basename(imagesFile)} has ${images.count} images but ${path.basename(labelsFile)} has ${labels.count} labels`);
  }
  return {
    set: { images: images.data, labels: labels.data, count: images.count, rows: images.rows, cols: images.cols },
    imagesMd5: images.md5,
    labelsMd5: labels.md5,
  };
}
