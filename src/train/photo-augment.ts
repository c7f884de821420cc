/**
 * Photo-like augmentation (`--photo P`): makes a training frame look the way a real photo looks
 * after `predict`'s preprocessing, so that the model learns to read those too. Home photos differ
 * from Fashion-MNIST's catalogue renderings in four ways, and each gets one step, applied in this
 * order to an image with probability P:
 *  1. viewpoint: a small perspective-like distortion (each corner moved by up to PHOTO.cornerPx,
 *     the inside following bilinearly), sampled bilinearly like a resized photo;
 *  2. tone: exposure and contrast (gamma, then a gain with clipping: a dark garment on a bright
 *     floor comes out of the contrast stretch as a flat white blob);
 *  3. focus: a Gaussian blur or an unsharp-mask sharpening of random strength;
 *  4. clutter: faint background (a tilted plane of light plus grain) behind the garment, as left
 *     by a floor, a bed or a wall that the mask did not remove completely. Each pixel keeps the
 *     brighter of itself and the clutter, so the garment stays in front without a dark halo.
 *
 * Hand-written like the rest of src/train/augment.ts: it works on 28x28 float frames in place,
 * seeded by our Rng, identical on every backend; an image library would cost a round trip per image.
 */
import type { Rng } from '../util/rng.js';

/** The strengths of each step (typed in one place; the flag only sets how often they apply). */
export const PHOTO = {
  /** Largest corner displacement of the viewpoint step, pixels. */
  cornerPx: 2,
  /** Gamma drawn log-uniformly in [1/gamma, gamma]. */
  gamma: 1.6,
  /** Gain drawn log-uniformly in [gainMin, gainMax], then values are clipped to 1. */
  gainMin: 0.75,
  gainMax: 1.8,
  /** Blur: Gaussian sigma uniform in this range, pixels. */
  blurSigma: [0.4, 1.0] as const,
  /** Sharpening: unsharp-mask amount uniform in [0, this]. */
  sharpenMax: 1.5,
  /** Clutter: brightness of the background plane, and of its grain, at most. */
  clutterLevel: 0.25,
  clutterGrain: 0.08,
} as const;

/** Applies the four steps to one rows x cols frame at `off` in `img` (values 0..1). */
export function photoDistort(img: Float32Array, off: number, rows: number, cols: number, rng: Rng): void {
  const size = rows * cols;
  const frame = img.subarray(off, off + size);
  viewpoint(frame, rows, cols, rng);
  tone(frame, rng);
  focus(frame, rows, cols, rng);
  clutter(frame, rows, cols, rng);
}

/**
 * Output pixel (r, c) samples the source at the bilinear blend of the four displaced corners, so
 * straight edges tilt and converge as in a slightly oblique photo; outside the frame is black.
 */
function viewpoint(frame: Float32Array, rows: number, cols: number, rng: Rng): void {
  const d = () => rng.uniform(-PHOTO.cornerPx, PHOTO.cornerPx);
  // Corner displacements (dy, dx): top-left, top-right, bottom-left, bottom-right.
  const tl = [d(), d()], tr = [d(), d()], bl = [d(), d()], br = [d(), d()];
  const src = frame.slice();
  for (let r = 0; r < rows; r++) {
    const v = r / (rows - 1);
    for (let c = 0; c < cols; c++) {
      const u = c / (cols - 1);
      const w00 = (1 - u) * (1 - v), w01 = u * (1 - v), w10 = (1 - u) * v, w11 = u * v;
      const sr = r + w00 * tl[0] + w01 * tr[0] + w10 * bl[0] + w11 * br[0];
      const sc = c + w00 * tl[1] + w01 * tr[1] + w10 * bl[1] + w11 * br[1];
      frame[r * cols + c] = sampleBilinear(src, rows, cols, sr, sc);
    }
  }
}

function sampleBilinear(src: Float32Array, rows: number, cols: number, sr: number, sc: number): number {
  const r0 = Math.floor(sr), c0 = Math.floor(sc);
  const fr = sr - r0, fc = sc - c0;
  const at = (r: number, c: number) => (r >= 0 && r < rows && c >= 0 && c < cols ? src[r * cols + c] : 0);
  return (at(r0, c0) * (1 - fc) + at(r0, c0 + 1) * fc) * (1 - fr) + (at(r0 + 1, c0) * (1 - fc) + at(r0 + 1, c0 + 1) * fc) * fr;
}

function tone(frame: Float32Array, rng: Rng): void {
  const gamma = Math.exp(rng.uniform(-Math.log(PHOTO.gamma), Math.log(PHOTO.gamma)));
  const gain = Math.exp(rng.uniform(Math.log(PHOTO.gainMin), Math.log(PHOTO.gainMax)));
  for (let i = 0; i < frame.length; i++) frame[i] = Math.min(1, Math.pow(frame[i], gamma) * gain);
}

/** Separable Gaussian blur of a frame into a new array (edges clamped). */
export function gaussianBlur(frame: Float32Array, rows: number, cols: number, sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(2 * sigma));
  const kernel: number[] = [];
  let sum = 0;
  for (let k = -radius; k <= radius; k++) {
    const w = Math.exp(-(k * k) / (2 * sigma * sigma));
    kernel.push(w);
    sum += w;
  }
  for (let k = 0; k < kernel.length; k++) kernel[k] /= sum;
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  const tmp = new Float32Array(frame.length);
  const out = new Float32Array(frame.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * frame[r * cols + clamp(c + k, cols)];
      tmp[r * cols + c] = acc;
    }
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * tmp[clamp(r + k, rows) * cols + c];
      out[r * cols + c] = acc;
    }
  }
  return out;
}

function focus(frame: Float32Array, rows: number, cols: number, rng: Rng): void {
  const sharpen = rng.next() < 0.5;
  const sigma = rng.uniform(PHOTO.blurSigma[0], PHOTO.blurSigma[1]);
  const amount = rng.uniform(0, PHOTO.sharpenMax);
  const blurred = gaussianBlur(frame, rows, cols, sigma);
  for (let i = 0; i < frame.length; i++) {
    const v = sharpen ? frame[i] + amount * (frame[i] - blurred[i]) : blurred[i];
    frame[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

function clutter(frame: Float32Array, rows: number, cols: number, rng: Rng): void {
  if (rng.next() < 0.5) return;
  const level = rng.uniform(0, PHOTO.clutterLevel);
  const gy = rng.uniform(-PHOTO.clutterLevel, PHOTO.clutterLevel), gx = rng.uniform(-PHOTO.clutterLevel, PHOTO.clutterLevel);
  const grain = rng.uniform(0, PHOTO.clutterGrain);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const v = level + gy * (r / (rows - 1) - 0.5) + gx * (c / (cols - 1) - 0.5) + grain * rng.next();
      if (v > frame[i]) frame[i] = v;
    }
  }
}
