/**
 * A worker thread of the preprocessing pool (see preprocess-pool.ts): one upload's bytes in, the
 * 28x28 frame and what preprocessing found out, or the predict stage's one-line refusal.
 */
import { preprocessImage, type PreprocessInfo } from '../predict/preprocess.js';
import { UserError, errorMessage } from '../util/errors.js';

export type PreprocessOutcome = { ok: true; pixels: Float32Array; info: PreprocessInfo } | { ok: false; error: string; user: boolean };

export default async function preprocess(bytes: Uint8Array): Promise<PreprocessOutcome> {
  try {
    const { pixels, info } = await preprocessImage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { ok: true, pixels, info };
  } catch (e) {
    return { ok: false, error: errorMessage(e), user: e instanceof UserError };
  }
}
