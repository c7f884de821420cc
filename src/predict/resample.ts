/**
 * Resizing a grey image to the frame: separable resampling with the usual kernels, widened by the
 * shrink factor so that a shrink averages every source pixel it covers (as libvips' reduce does).
 *
 * Hand-written, not sharp's resize: the frame is at most 28x28 from a crop of at most 256x256, and
 * a sharp call costs about 1.5 ms of CPU on these cores whatever the size (libvips' pipeline set-up
 * and thread hand-offs), more than all of the object finding before it; this costs about a tenth
 * of that. Being plain TypeScript, it also runs in the dashboard, which classifies in the browser
 * with the same steps as the server.
 */

export type ResampleKernel = 'linear' | 'cubic' | 'mitchell' | 'lanczos3';

/** Cubic convolution kernels of Mitchell and Netravali's family, by their B and C. */
function bicubic(b: number, c: number): (x: number) => number {
  return (x) => {
    const t = Math.abs(x);
    if (t < 1) return ((12 - 9 * b - 6 * c) * t * t * t + (-18 + 12 * b + 6 * c) * t * t + (6 - 2 * b)) / 6;
    if (t < 2) return ((-b - 6 * c) * t * t * t + (6 * b + 30 * c) * t * t + (-12 * b - 48 * c) * t + (8 * b + 24 * c)) / 6;
    return 0;
  };
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

/** Each kernel and the half-width outside which it is zero (at a scale of 1). */
const KERNELS: Record<ResampleKernel, { support: number; weight: (x: number) => number }> = {
  linear: { support: 1, weight: (x) => Math.max(0, 1 - Math.abs(x)) },
  // Catmull-Rom (libvips' and sharp's "cubic").
  cubic: { support: 2, weight: bicubic(0, 0.5) },
  mitchell: { support: 2, weight: bicubic(1 / 3, 1 / 3) },
  lanczos3: { support: 3, weight: (x) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** For one axis: each output pixel's first source pixel, tap count and normalised weights. */
interface AxisTaps {
  first: Int32Array;
  count: Int32Array;
  /** `taps` weights per output pixel, zero-padded past its count. */
  weights: Float64Array;
  taps: number;
}

/**
 * `from` source pixels that are boxes of `box` pixels of an axis `length` long (1: the pixels
 * themselves); each output pixel's taps are centred where its centre falls on the original axis.
 */
function axisTaps(from: number, to: number, kernel: ResampleKernel, box: number, length: number): AxisTaps {
  const scale = length / box / to;
  const { support, weight } = KERNELS[kernel];
  // Shrinking stretches the kernel over `scale` source pixels per output pixel; enlarging interpolates.
  const stretch = Math.max(1, scale);
  const reach = support * stretch;
  const taps = Math.ceil(2 * reach) + 1;
  const first = new Int32Array(to);
  const count = new Int32Array(to);
  const weights = new Float64Array(to * taps);
  for (let o = 0; o < to; o++) {
    // Box j's centre on the original axis is j * box + (box - 1) / 2.
    const centre = ((o + 0.5) * (length / to) - 0.5 - (box - 1) / 2) / box;
    const lo = Math.max(0, Math.ceil(centre - reach));
    const hi = Math.min(from - 1, Math.floor(centre + reach));
    let sum = 0;
    for (let i = lo; i <= hi; i++) {
      const w = weight((i - centre) / stretch);
      weights[o * taps + i - lo] = w;
      sum += w;
    }
    // Near an edge part of the kernel falls outside the image: the weights left are renormalised.
    const n = hi - lo + 1;
    for (let k = 0; k < n; k++) weights[o * taps + k] /= sum;
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, taps };
}

/**
 * Averages boxes of `kx` x `ky` pixels (the last ones on each axis may be partial). A large shrink
 * goes through this first, as in libvips: the kernel then spans a few pixels, not dozens.
 */
function boxShrink(src: ArrayLike<number>, width: number, height: number, kx: number, ky: number): { pixels: Float32Array; width: number; height: number } {
  const w = Math.ceil(width / kx);
  const h = Math.ceil(height / ky);
  const sums = new Float64Array(w * h);
  const counts = new Float64Array(w * h);
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / ky) * w;
    for (let x = 0; x < width; x++) {
      const j = row + Math.floor(x / kx);
      sums[j] += src[y * width + x];
      counts[j]++;
    }
  }
  const pixels = new Float32Array(w * h);
  for (let j = 0; j < pixels.length; j++) pixels[j] = sums[j] / counts[j];
  return { pixels, width: w, height: h };
}

/** How much of a shrink by `scale` the box average takes: all but a factor of 2 to 4 left to the kernel. */
const boxFactor = (scale: number) => Math.max(1, Math.floor(scale / 2));

/** `src` (width x height grey levels, row-major) resized to `toWidth` x `toHeight`, rounded to 8 bits. */
export function resizeGrey(src: Uint8Array, width: number, height: number, toWidth: number, toHeight: number, kernel: ResampleKernel): Uint8Array {
  if (src.length !== width * height) throw new Error(`resizeGrey: ${src.length} values for ${width}x${height}`);
  const kx = boxFactor(width / toWidth);
  const ky = boxFactor(height / toHeight);
  const shrunk = kx > 1 || ky > 1 ? boxShrink(src, width, height, kx, ky) : { pixels: src, width, height };
  const across = axisTaps(shrunk.width, toWidth, kernel, kx, width);
  const down = axisTaps(shrunk.height, toHeight, kernel, ky, height);
  const from = shrunk.pixels;
  // Horizontal pass into floats (kept unrounded for the vertical pass).
  const rows = new Float32Array(shrunk.height * toWidth);
  for (let y = 0; y < shrunk.height; y++) {
    const base = y * shrunk.width;
    for (let o = 0; o < toWidth; o++) {
      const start = base + across.first[o];
      const w = o * across.taps;
      let sum = 0;
      for (let k = 0; k < across.count[o]; k++) sum += across.weights[w + k] * from[start + k];
      rows[y * toWidth + o] = sum;
    }
  }
  const out = new Uint8Array(toWidth * toHeight);
  for (let o = 0; o < toHeight; o++) {
    const w = o * down.taps;
    for (let x = 0; x < toWidth; x++) {
      let sum = 0;
      for (let k = 0; k < down.count[o]; k++) sum += down.weights[w + k] * rows[(down.first[o] + k) * toWidth + x];
      // Kernels with negative lobes overshoot at edges: clamp as an 8-bit image does.
      out[o * toWidth + x] = Math.min(255, Math.max(0, Math.round(sum)));
    }
  }
  return out;
}
