/**
 * The data set's own conversion (Xiao, Rasul and Vollgraf, 2017, section 2), which turned
 * Zalando's catalogue photos into Fashion-MNIST: trim the edges close to the corner pixels' colour,
 * resize the longest edge to 28 by subsampling, sharpen with a Gaussian operator, extend the short
 * edge to 28 with the image centred, negate, convert to 8-bit grey. Every step is sharp's; each
 * runs as its own sharp call because sharp applies the operations of one pipeline in its own fixed
 * order, not in the order they are written, and the paper's order matters (sharpen after the
 * shrink, negate after the extension).
 */
import sharp from 'sharp';
import { UserError } from '../util/errors.js';
import type { PreprocessConfig } from './config.js';
import type { RgbImage } from './decode.js';
import type { BackgroundEstimate, PreprocessInfo } from './preprocess.js';

type Rgb = [number, number, number];

const raw = (width: number, height: number, channels: 1 | 2 | 3 | 4) => ({ raw: { width, height, channels } });

/**
 * The background colour: the per-channel median of the four corner pixels (the paper trims what is
 * close to "the corner pixels"; the median lets one corner touched by the object be outvoted).
 */
export function cornerColour(img: RgbImage): Rgb {
  const { width: w, height: h, data } = img;
  const corners = [0, w - 1, (h - 1) * w, h * w - 1];
  const channel = (c: number) => {
    const v = corners.map((i) => data[i * 3 + c]).sort((a, b) => a - b);
    return Math.round((v[1] + v[2]) / 2);
  };
  return [channel(0), channel(1), channel(2)];
}

/** True when some pixel differs from `bg` by more than `threshold` in some channel (sharp's trim test). */
function anythingStandsOut(img: RgbImage, bg: Rgb, threshold: number): boolean {
  const { data } = img;
  for (let i = 0; i < data.length; i += 3) {
    if (Math.abs(data[i] - bg[0]) > threshold || Math.abs(data[i + 1] - bg[1]) > threshold || Math.abs(data[i + 2] - bg[2]) > threshold) return true;
  }
  return false;
}

/**
 * sharp's trim smooths with a 3x3 median before it looks for the object (so JPEG specks do not
 * count): in an image thinner than that window (a 20000x20 strip, brought to 2048x2 on load)
 * nothing can stand out, and libvips refuses to try.
 */
export const TRIM_WINDOW = 3;

/** The size whose long side is `size`, aspect kept (the short side at least 1 pixel). */
export function fitLongSide(width: number, height: number, size: number): { width: number; height: number } {
  const scale = size / Math.max(width, height);
  return { width: Math.max(1, Math.min(size, Math.round(width * scale))), height: Math.max(1, Math.min(size, Math.round(height * scale))) };
}

/** Runs the paper's steps on decoded RGB pixels. */
export async function preprocessPaper(img: RgbImage, config: PreprocessConfig): Promise<{ pixels: Float32Array; info: Omit<PreprocessInfo, 'source'> }> {
  const { width, height } = img;
  const size = config.size;
  const bg = cornerColour(img);
  const threshold = config.paper.trimFraction * 255;
  const found = Math.min(width, height) >= TRIM_WINDOW && anythingStandsOut(img, bg, threshold);
  if (!found && config.requireObject) throw new UserError('no object stands out from the background (a blank or uniform image?)');

  // 1. Trim. sharp's trim smooths with a 3x3 median first, so JPEG specks do not count as the object.
  const trimmed = found
    ? await sharp(img.data, raw(width, height, 3)).trim({ background: { r: bg[0], g: bg[1], b: bg[2] }, threshold }).raw().toBuffer({ resolveWithObject: true })
    : { data: Buffer.from(img.data), info: { width, height, trimOffsetLeft: 0, trimOffsetTop: 0 } };
  // sharp reports the offsets as negative numbers (and a zero one as -0).
  const box = { x: Math.abs(trimmed.info.trimOffsetLeft ?? 0), y: Math.abs(trimmed.info.trimOffsetTop ?? 0), width: trimmed.info.width, height: trimmed.info.height };

  // 2. Long edge to `size` by subsampling: sharp's nearest kernel takes the source pixel nearest each
  // output pixel's centre, skipping the rows and columns in between (test/photos-paper checks it).
  const fit = fitLongSide(box.width, box.height, size);
  let rgb = await sharp(trimmed.data, raw(box.width, box.height, 3)).resize(fit.width, fit.height, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer();

  // 3. Sharpen: sharp's Gaussian unsharp mask, stronger on edges than on flat areas.
  if (config.paper.sharpenSigma > 0) rgb = await sharp(rgb, raw(fit.width, fit.height, 3)).sharpen({ sigma: config.paper.sharpenSigma }).raw().toBuffer();

  // 4. Short edge to `size`, centred, on the background colour (which the negation turns black).
  const left = Math.floor((size - fit.width) / 2);
  const top = Math.floor((size - fit.height) / 2);
  const framed = await sharp(rgb, raw(fit.width, fit.height, 3))
    .extend({ left, right: size - fit.width - left, top, bottom: size - fit.height - top, background: { r: bg[0], g: bg[1], b: bg[2] } })
    .raw()
    .toBuffer();

  // 5-6. Negate, then 8-bit grey.
  const grey = await sharp(framed, raw(size, size, 3)).negate().greyscale().extractChannel(0).raw({ depth: 'uchar' }).toBuffer();
  const pixels = new Float32Array(size * size);
  for (let i = 0; i < pixels.length; i++) pixels[i] = grey[i] / 255;

  const greyLevel = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2];
  const background: BackgroundEstimate = { rgb: bg, grey: greyLevel, palette: [bg], noise: 0, light: greyLevel >= config.lightBackgroundMin };
  return {
    pixels,
    info: { mode: 'paper', working: { width, height }, background, inverted: true, objectFound: found, box, mirrored: false, objectFraction: (box.width * box.height) / (width * height), gain: 1 },
  };
}
