/**
 * A worker thread of the preprocessing pool (see preprocess-pool.ts): one upload's bytes in, the
 * 28x28 frame (as values, and as the PNG the answer shows) and what preprocessing found out, or the
 * predict stage's one-line refusal.
 */
import { IMAGE_SIZE } from '../data/types.js';
import { preprocessImage } from '../predict/photo.js';
import type { PreprocessInfo } from '../predict/preprocess.js';
import { frameBytes } from '../predict/save.js';
import { encodePng } from '../util/png.js';
import { UserError, errorMessage } from '../util/errors.js';

export type PreprocessOutcome = { ok: true; pixels: Float32Array; png: Uint8Array; info: PreprocessInfo } | { ok: false; error: string; user: boolean };

export async function preprocessUpload(bytes: Buffer): Promise<PreprocessOutcome> {
  try {
    const { pixels, info } = await preprocessImage(bytes);
    return { ok: true, pixels, png: encodePng(frameBytes(pixels, IMAGE_SIZE), IMAGE_SIZE, IMAGE_SIZE, 1), info };
  } catch (e) {
    return { ok: false, error: errorMessage(e), user: e instanceof UserError };
  }
}

export default function preprocess(bytes: Uint8Array): Promise<PreprocessOutcome> {
  return preprocessUpload(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
