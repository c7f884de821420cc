/**
 * Reading and decoding one image (file or upload) into RGB pixels, with every way an input can be
 * bad turned into one clear `UserError` line for that input.
 */
import { promises as fs } from 'node:fs';
import sharp, { type Metadata, type SharpOptions } from 'sharp';
import { UserError, errorMessage } from '../util/errors.js';
import type { DecodeLimits } from './config.js';

/** Interleaved 8-bit RGB. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DecodedImage {
  rgb: RgbImage;
  /** Size and format of the input as stored, after EXIF orientation. */
  source: { format: string; width: number; height: number; bytes: number };
}

const MB = 1024 * 1024;

function sizeText(bytes: number): string {
  return bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : `${bytes} bytes`;
}

/** Reads a file after checking it is a readable regular file of an acceptable size. */
export async function readImageFile(file: string, limits: DecodeLimits): Promise<Buffer> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (e) {
    throw new UserError(fileErrorText(e));
  }
  if (stat.isDirectory()) throw new UserError('is a directory, not an image');
  if (!stat.isFile()) throw new UserError('not a regular file');
  checkByteSize(stat.size, limits);
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw new UserError(fileErrorText(e));
  }
}

function fileErrorText(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not an image';
    default:
      return `cannot read: ${errorMessage(e)}`;
  }
}

function checkByteSize(bytes: number, limits: DecodeLimits): void {
  if (bytes === 0) throw new UserError('empty file');
  if (bytes > limits.maxFileBytes) throw new UserError(`file too large: ${sizeText(bytes)} (limit ${sizeText(limits.maxFileBytes)})`);
}

/** Turns sharp/libvips messages (multi-line, library jargon) into one line a user can act on. */
function decodeErrorText(e: unknown): string {
  const message = errorMessage(e);
  const first = message.split('\n')[0].trim();
  if (/unsupported image format/i.test(message)) return 'not an image (unrecognised or unsupported format)';
  if (/exceeds pixel limit/i.test(message)) return 'image too large (over the pixel limit)';
  if (/premature end|truncated|unexpected end|end of (file|stream)|not enough data/i.test(message)) return 'truncated or corrupt image (its data ends early)';
  // libvips reports damaged pixel data as a warning, which failOn turns into this bare message.
  if (/warning treated as error/i.test(message)) return 'corrupt or truncated image data';
  return `corrupt or unreadable image: ${first}`;
}

function sharpOptions(limits: DecodeLimits): SharpOptions {
  // pages: 1 -> only the first frame of an animated GIF/WebP.
  return { limitInputPixels: limits.maxPixels, failOn: limits.failOn, pages: 1 };
}

/** sharp's kernel for the shrink while decoding: 'nearest' subsamples (rows and columns skipped). */
export type DecodeKernel = 'lanczos3' | 'nearest';

/**
 * Decodes image bytes into RGB, honouring EXIF orientation and flattening transparency onto white
 * (a cut-out product on a transparent background is a product on a white page), shrunk with
 * `kernel` so that its long side is at most `maxSide` (never enlarged).
 */
export async function decodeImage(bytes: Buffer, limits: DecodeLimits, maxSide: number, kernel: DecodeKernel = 'lanczos3'): Promise<DecodedImage> {
  checkByteSize(bytes.byteLength, limits);
  let meta: Metadata;
  try {
    // Reading the header decodes no pixels, so it runs without the pixel limit; that lets the
    // message below say how large the image claims to be.
    meta = await sharp(bytes, { ...sharpOptions(limits), limitInputPixels: false }).metadata();
  } catch (e) {
    throw new UserError(decodeErrorText(e));
  }
  const { width, height } = meta;
  if (!width || !height) throw new UserError('not an image (no dimensions)');
  if (width < limits.minSide || height < limits.minSide) throw new UserError(`image too small: ${width}x${height} pixels (at least ${limits.minSide}x${limits.minSide} needed to see a garment)`);
  const pixels = width * height;
  if (pixels > limits.maxPixels) {
    throw new UserError(`image too large: ${width}x${height} = ${(pixels / 1e6).toFixed(1)} megapixels (limit ${(limits.maxPixels / 1e6).toFixed(0)})`);
  }
  // EXIF orientations 5-8 swap width and height.
  const swapped = (meta.orientation ?? 1) >= 5;
  const source = { format: meta.format ?? 'unknown', width: swapped ? height : width, height: swapped ? width : height, bytes: bytes.byteLength };
  try {
    const { data, info } = await sharp(bytes, sharpOptions(limits))
      .autoOrient()
      .flatten({ background: '#ffffff' })
      .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true, kernel })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { rgb: toRgb(data, info.width, info.height, info.channels), source };
  } catch (e) {
    throw new UserError(decodeErrorText(e));
  }
}

/** Normalises 1-4 channel output to interleaved RGB (drops any alpha left after flattening). */
function toRgb(data: Buffer, width: number, height: number, channels: number): RgbImage {
  const n = width * height;
  if (channels === 3) return { data: new Uint8Array(data.buffer, data.byteOffset, n * 3), width, height };
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const grey = channels <= 2;
    out[i * 3] = data[i * channels];
    out[i * 3 + 1] = grey ? data[i * channels] : data[i * channels + 1];
    out[i * 3 + 2] = grey ? data[i * channels] : data[i * channels + 2];
  }
  return { data: out, width, height };
}

/** Reads (when given a path) and decodes one input. */
export async function loadImage(input: Buffer | string, limits: DecodeLimits, maxSide: number, kernel: DecodeKernel = 'lanczos3'): Promise<DecodedImage> {
  const bytes = typeof input === 'string' ? await readImageFile(input, limits) : input;
  return decodeImage(bytes, limits, maxSide, kernel);
}
