/**
 * Brings a photo to Fashion-MNIST's form: a light object on a black background, centred, its long
 * side filling the 28x28 frame, grey levels.
 *
 * Fashion-MNIST was made from catalogue photos on white by trimming the background, fitting the long
 * side to 28, centring and negating. A photo therefore becomes "how much each pixel differs from
 * the background": on a white page that is exactly the negated grey level; on a dark background it
 * is the grey level itself. The steps below estimate the background, find the object as the pixels
 * that differ from it, and keep only that object.
 *
 * Everything here works on decoded pixels in plain TypeScript (no sharp, no Node), so that the
 * dashboard runs the same steps in the browser; decoding and the sharp-rendered modes are in
 * photo.ts.
 */
import { UserError } from '../util/errors.js';
import type { PreprocessConfig, PreprocessMode } from './config.js';
import type { RgbImage } from './decode.js';
import { resizeGrey } from './resample.js';
import { boxArea, boxBlur, boxIntersection, boxUnion, close, connectedComponents, fillHoles, hysteresis, open, otsuThreshold, type Box } from './mask.js';

export interface BackgroundEstimate {
  /** The dominant background colour (median of the border ring). */
  rgb: [number, number, number];
  grey: number;
  /**
   * Colours the background is made of: just `rgb` for a plain backdrop; the main tones of the
   * border (k-means) for a textured one (wood grain, carpet, patterned sheets).
   */
  palette: [number, number, number][];
  /** Typical colour distance of border pixels from the nearest palette colour (texture, JPEG noise). */
  noise: number;
  /** Light backgrounds are inverted so the object ends up light on black. */
  light: boolean;
}

export interface PreprocessInfo {
  /** The pipeline that made the frame (see PreprocessMode). */
  mode: PreprocessMode;
  source: { format: string; width: number; height: number; bytes: number };
  /** Size the analysis ran at (the photo shrunk to `workingSize`). */
  working: { width: number; height: number };
  background: BackgroundEstimate;
  inverted: boolean;
  /** The object mask's thresholds (colour distances; 'mask' and 'hybrid' modes). */
  thresholds?: { otsu: number; weak: number; strong: number };
  /** False when nothing stood out from the background; the frame is then (nearly) black. */
  objectFound: boolean;
  /** The object's box, in the source photo's pixels. */
  box: Box;
  /** Whether the frame was mirrored to face the way Fashion-MNIST's shoes face. */
  mirrored: boolean;
  /** Share of the photo covered by the object mask. */
  objectFraction: number;
  /** Contrast gain applied at the end. */
  gain: number;
}

export interface PreprocessedImage {
  /** size x size values in [0,1], row-major: what the model sees. */
  pixels: Float32Array;
  info: PreprocessInfo;
}

const MAX_COLOUR_DISTANCE = Math.ceil(Math.sqrt(3) * 255);

/** ITU-R BT.601 luma, the same weights libvips uses for sRGB -> grey. */
export function greyLevels(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const grey = new Float32Array(n);
  for (let i = 0; i < n; i++) grey[i] = 0.299 * img.data[i * 3] + 0.587 * img.data[i * 3 + 1] + 0.114 * img.data[i * 3 + 2];
  return grey;
}

/**
 * The upper median: the element at position n/2 (rounded down) of the values sorted, found by
 * quickselect (reorders `values`). The values must not be NaN.
 */
function medianInPlace(values: Float64Array): number {
  if (values.length === 0) return 0;
  const k = values.length >> 1;
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i++] = values[j];
        values[j--] = t;
      }
    }
    // [lo, j] <= pivot <= [i, hi], and everything strictly between j and i equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}

/** The same median of one channel's 8-bit values at the given pixels, by counting (no sort). */
function channelMedian(data: Uint8Array, idx: Int32Array, channel: number): number {
  if (idx.length === 0) return 0;
  const counts = new Int32Array(256);
  for (let j = 0; j < idx.length; j++) counts[data[idx[j] * 3 + channel]]++;
  const rank = idx.length >> 1;
  let seen = 0;
  for (let v = 0; v < 256; v++) {
    seen += counts[v];
    if (seen > rank) return v;
  }
  return 255;
}

/** Indices of the pixels in the border ring `ring` pixels wide, in row-major order. */
function borderRing(width: number, height: number, ring: number): Int32Array {
  let n = 0;
  for (let y = 0; y < height; y++) n += y < ring || y >= height - ring ? width : Math.min(width, 2 * ring);
  const out = new Int32Array(n);
  let k = 0;
  for (let y = 0; y < height; y++) {
    const full = y < ring || y >= height - ring;
    for (let x = 0; x < width; x++) {
      if (full || x < ring || x >= width - ring) out[k++] = y * width + x;
    }
  }
  return out;
}

/** Each pixel's colour distance from the nearest palette colour. */
function nearestDistances(data: Uint8Array, idx: Int32Array, palette: readonly (readonly number[])[]): Float64Array {
  const out = new Float64Array(idx.length);
  for (let j = 0; j < idx.length; j++) out[j] = nearestDistance(data, idx[j], palette);
  return out;
}

/**
 * The background is what the border shows most: per-channel median of a border ring (robust to an
 * object that touches the edge on one side). When the border is textured, its main tones are found
 * by k-means so that each of them counts as background.
 */
export function estimateBackground(img: RgbImage, config: Pick<PreprocessConfig, 'borderFraction' | 'lightBackgroundMin' | 'texturedNoise' | 'paletteSize' | 'paletteMinShare'>): BackgroundEstimate {
  const ring = Math.max(1, Math.round(config.borderFraction * Math.min(img.width, img.height)));
  const idx = borderRing(img.width, img.height, ring);
  const rgb: [number, number, number] = [channelMedian(img.data, idx, 0), channelMedian(img.data, idx, 1), channelMedian(img.data, idx, 2)];
  const grey = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
  let palette: [number, number, number][] = [rgb];
  let noise = medianInPlace(nearestDistances(img.data, idx, palette));
  if (noise >= config.texturedNoise && config.paletteSize > 1) {
    palette = [rgb, ...borderPalette(img.data, idx, config.paletteSize, config.paletteMinShare)];
    noise = medianInPlace(nearestDistances(img.data, idx, palette));
  }
  return { rgb, grey, palette, noise, light: grey >= config.lightBackgroundMin };
}

/**
 * k-means on the border's colours, started from grey-level quantiles so it is deterministic.
 * Clusters holding less than `minShare` of the border are dropped: they are more likely the object
 * touching the edge than background.
 */
function borderPalette(data: Uint8Array, idx: Int32Array, k: number, minShare: number): [number, number, number][] {
  const step = Math.max(1, Math.floor(idx.length / 4000));
  const sample = idx.filter((_, j) => j % step === 0);
  const greys = new Float64Array(sample.length);
  sample.forEach((i, j) => (greys[j] = 0.299 * data[i * 3] + 0.587 * data[i * 3 + 1] + 0.114 * data[i * 3 + 2]));
  // Sample positions sorted by grey level; Array.prototype.sort is stable, so equal greys keep the border's order.
  const byGrey = Array.from(sample, (_, j) => j)
    .sort((a, b) => greys[a] - greys[b])
    .map((j) => sample[j]);
  let centres = Array.from({ length: k }, (_, c) => {
    const i = byGrey[Math.floor(((c + 0.5) / k) * byGrey.length)];
    return [data[i * 3], data[i * 3 + 1], data[i * 3 + 2]] as [number, number, number];
  });
  let counts = new Array<number>(k).fill(0);
  const at = new Float64Array(3 * k);
  const sums = new Float64Array(3 * k);
  for (let iter = 0; iter < 10; iter++) {
    // Once an iteration leaves the centres as they were, every later one would repeat it exactly.
    if (iter > 0 && centres.every((c, j) => c[0] === at[3 * j] && c[1] === at[3 * j + 1] && c[2] === at[3 * j + 2])) break;
    centres.forEach((c, j) => at.set(c, 3 * j));
    sums.fill(0);
    counts = new Array<number>(k).fill(0);
    for (let j = 0; j < sample.length; j++) {
      const i = sample[j];
      const r = data[i * 3];
      const g = data[i * 3 + 1];
      const b = data[i * 3 + 2];
      // The first centre at the smallest distance. Distances are compared as the square roots
      // they are (two squares can differ and their roots not), but a root is only taken for a
      // square below the best one's: a larger square never has a smaller root.
      let best = 0;
      let bestSquare = Infinity;
      let bestDist = Infinity;
      for (let c = 0; c < k; c++) {
        const dr = r - at[3 * c];
        const dg = g - at[3 * c + 1];
        const db = b - at[3 * c + 2];
        const square = dr * dr + dg * dg + db * db;
        if (square < bestSquare) {
          const d = Math.sqrt(square);
          if (d < bestDist) {
            bestDist = d;
            bestSquare = square;
            best = c;
          }
        }
      }
      counts[best]++;
      sums[3 * best] += r;
      sums[3 * best + 1] += g;
      sums[3 * best + 2] += b;
    }
    centres = centres.map((old, c) => (counts[c] > 0 ? ([sums[3 * c] / counts[c], sums[3 * c + 1] / counts[c], sums[3 * c + 2] / counts[c]] as [number, number, number]) : old));
  }
  return centres.filter((_, c) => counts[c] >= minShare * sample.length);
}

function nearestDistance(data: Uint8Array, i: number, palette: readonly (readonly number[])[]): number {
  let best = Infinity;
  for (const p of palette) best = Math.min(best, colourDistance(data, i, p));
  return best;
}

function colourDistance(data: Uint8Array, i: number, rgb: readonly number[]): number {
  const dr = data[i * 3] - rgb[0];
  const dg = data[i * 3 + 1] - rgb[1];
  const db = data[i * 3 + 2] - rgb[2];
  return Math.sqrt(dr * dr + dg * dg + db * db);
}

/**
 * Colour (not just grey) distance from the nearest background colour, slightly blurred: a grey jumper on a red
 * sheet has the sheet's grey level but not its colour, and the blur averages out JPEG noise.
 */
export function distanceFromBackground(img: RgbImage, bg: BackgroundEstimate, blurRadius: number): Float32Array {
  const n = img.width * img.height;
  const dist = new Float32Array(n);
  const { data } = img;
  const k = bg.palette.length;
  const palette = Float64Array.from(bg.palette.flat());
  for (let i = 0; i < n; i++) {
    // nearestDistance, inlined over a flat palette.
    let best = Infinity;
    for (let c = 0; c < k; c++) {
      const dr = data[i * 3] - palette[3 * c];
      const dg = data[i * 3 + 1] - palette[3 * c + 1];
      const db = data[i * 3 + 2] - palette[3 * c + 2];
      best = Math.min(best, Math.sqrt(dr * dr + dg * dg + db * db));
    }
    dist[i] = best;
  }
  return boxBlur(dist, img.width, img.height, blurRadius);
}

export interface ObjectMask {
  mask: Uint8Array;
  thresholds: { otsu: number; weak: number; strong: number };
}

/** Pixels that stand out from the background, by hysteresis between a noise-based and an Otsu-based threshold. */
export function objectMask(dist: Float32Array, width: number, height: number, bg: BackgroundEstimate, config: PreprocessConfig): ObjectMask {
  const otsu = otsuThreshold(dist, MAX_COLOUR_DISTANCE);
  const strong = Math.max(config.strongMin, config.strongOtsuFraction * otsu);
  const weak = Math.min(strong, Math.max(config.weakMin, config.weakNoiseFactor * bg.noise));
  return { mask: hysteresis(dist, width, height, weak, strong), thresholds: { otsu, weak, strong } };
}

/**
 * The object. An opening first removes thin lines and specks (a door frame, a photo's dark edge),
 * a closing joins the object's parts; then the largest connected component is the object, with any
 * sizeable component lying mostly inside its box (a strap, a collar). Other large components are
 * left out on purpose: Fashion-MNIST shows one item, so of a pair of shoes one is kept. Holes filled.
 */
export function selectObject(mask: Uint8Array, width: number, height: number, config: PreprocessConfig): { mask: Uint8Array; box: Box } | null {
  const long = Math.max(width, height);
  const openRadius = Math.round(config.openFraction * long);
  const closeRadius = Math.max(1, Math.round(config.closeFraction * long));
  const cleaned = close(open(mask, width, height, openRadius), width, height, closeRadius);
  const { labels, components } = connectedComponents(cleaned, width, height);
  if (components.length === 0) return null;
  const largest = components.reduce((a, b) => (b.area > a.area ? b : a));
  const keep = new Set<number>();
  let box = largest.box;
  for (const c of components) {
    const inside = boxArea(boxIntersection(largest.box, c.box)) >= config.insideShare * boxArea(c.box);
    if (c === largest || (c.area >= config.minComponentFraction * largest.area && inside)) {
      keep.add(c.label);
      box = boxUnion(box, c.box);
    }
  }
  const kept = new Uint8Array(components.length + 1);
  for (const label of keep) kept[label] = 1;
  const selected = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) selected[i] = kept[labels[i]];
  return { mask: fillHoles(selected, width, height), box };
}

/**
 * Grey-level difference from the background, scaled so that the darkest possible pixel on a light
 * background (or the lightest on a dark one) is 255; zero outside the object.
 */
export function objectIntensity(grey: Float32Array, bg: BackgroundEstimate, mask: Uint8Array): Uint8Array {
  const range = Math.max(1, bg.light ? bg.grey : 255 - bg.grey);
  const out = new Uint8Array(grey.length);
  for (let i = 0; i < grey.length; i++) {
    if (mask[i]) out[i] = Math.min(255, Math.round((Math.abs(grey[i] - bg.grey) * 255) / range));
  }
  return out;
}

/**
 * `objectIntensity(greyLevels(img), bg, mask)`, computing the grey level (rounded to float32, as
 * greyLevels stores it) of the object's pixels only.
 */
export function objectIntensityRgb(img: RgbImage, bg: BackgroundEstimate, mask: Uint8Array): Uint8Array {
  const range = Math.max(1, bg.light ? bg.grey : 255 - bg.grey);
  const { data } = img;
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const grey = Math.fround(0.299 * data[i * 3] + 0.587 * data[i * 3 + 1] + 0.114 * data[i * 3 + 2]);
    out[i] = Math.min(255, Math.round((Math.abs(grey - bg.grey) * 255) / range));
  }
  return out;
}

/**
 * Shrinks (or enlarges) a crop of `width` x `height` grey levels to `toWidth` x `toHeight`. The
 * default is resample.ts with the configured kernel; photo.ts passes sharp's rendering for the
 * paper's subsampling and sharpening.
 */
export type FrameRenderer = (crop: Uint8Array, width: number, height: number, toWidth: number, toHeight: number) => Uint8Array | Promise<Uint8Array>;

function resampleRenderer(config: Pick<PreprocessConfig, 'kernel' | 'sharpenSigma'>): FrameRenderer {
  const { kernel } = config;
  if (kernel === 'nearest' || config.sharpenSigma > 0) throw new Error(`the ${kernel} kernel${config.sharpenSigma > 0 ? ' with sharpening' : ''} is rendered by sharp: pass photo.ts's renderer`);
  return (crop, width, height, toWidth, toHeight) => resizeGrey(crop, width, height, toWidth, toHeight, kernel);
}

/** Crops `box`, shrinks it so its long side is `size` (aspect kept), and centres it on a black size x size frame. */
export async function fitToFrame(intensity: Uint8Array, width: number, height: number, box: Box, config: PreprocessConfig, render: FrameRenderer = resampleRenderer(config)): Promise<Uint8Array> {
  const margin = Math.round(config.cropMargin * Math.max(box.width, box.height));
  const x0 = Math.max(0, box.x - margin);
  const y0 = Math.max(0, box.y - margin);
  const x1 = Math.min(width, box.x + box.width + margin);
  const y1 = Math.min(height, box.y + box.height + margin);
  const cw = x1 - x0;
  const ch = y1 - y0;
  const crop = new Uint8Array(cw * ch);
  for (let y = 0; y < ch; y++) crop.set(intensity.subarray((y0 + y) * width + x0, (y0 + y) * width + x1), y * cw);

  const size = config.size;
  const scale = size / Math.max(cw, ch);
  const tw = Math.max(1, Math.min(size, Math.round(cw * scale)));
  const th = Math.max(1, Math.min(size, Math.round(ch * scale)));
  const small = await render(crop, cw, ch, tw, th);

  const frame = new Uint8Array(size * size);
  const ox = Math.floor((size - tw) / 2);
  const oy = Math.floor((size - th) / 2);
  for (let y = 0; y < th; y++) frame.set(small.subarray(y * tw, (y + 1) * tw), (oy + y) * size + ox);
  return frame;
}

/**
 * How high the object reaches over its left and right parts (the outer `share` of its width on
 * each side): the mean, over those columns, of the distance from the frame's bottom to the column's
 * topmost pixel above `level`.
 */
export function sideHeights(frame: Uint8Array, size: number, level: number, share = 0.4): { left: number; right: number } {
  const top = new Array<number>(size).fill(-1);
  let x0 = size;
  let x1 = -1;
  for (let x = 0; x < size; x++) {
    for (let y = 0; y < size; y++) {
      if (frame[y * size + x] > level) {
        top[x] = y;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        break;
      }
    }
  }
  if (x1 < 0) return { left: 0, right: 0 };
  const k = Math.max(1, Math.round(share * (x1 - x0 + 1)));
  const mean = (from: number, to: number) => {
    let sum = 0;
    let n = 0;
    for (let x = from; x < to; x++) {
      if (top[x] >= 0) {
        sum += size - top[x];
        n++;
      }
    }
    return n ? sum / n : 0;
  };
  return { left: mean(x0, x0 + k), right: mean(x1 + 1 - k, x1 + 1) };
}

/**
 * Fashion-MNIST's footwear all faces one way: toe left, heel or shaft (the higher end) right — true
 * of 99.7% of its sneakers, 100% of its ankle boots and 92% of its sandals, measured with
 * `sideHeights` on the training set — and the model never saw it mirrored. A photographed shoe
 * faces either way, so a wide object whose higher end is on the left is mirrored. Tall objects
 * (garments, which are roughly symmetric anyway) are left alone.
 */
export function orientLikeFashionMnist(frame: Uint8Array, size: number, box: { width: number; height: number }, minAspect: number): { frame: Uint8Array; mirrored: boolean } {
  if (box.width < minAspect * box.height) return { frame, mirrored: false };
  let max = 0;
  for (const v of frame) max = Math.max(max, v);
  const { left, right } = sideHeights(frame, size, 0.12 * max);
  if (left <= right) return { frame, mirrored: false };
  const out = new Uint8Array(frame.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) out[y * size + x] = frame[y * size + size - 1 - x];
  }
  return { frame: out, mirrored: true };
}

/** Maps the object's brightest `stretchPercentile` to 255 (gain capped), then to floats in [0,1]. */
export function stretchContrast(frame: Uint8Array, config: Pick<PreprocessConfig, 'stretchPercentile' | 'maxStretchGain'>): { pixels: Float32Array; gain: number } {
  const lit = Array.from(frame).filter((v) => v > 0).sort((a, b) => a - b);
  const level = lit.length === 0 ? 0 : lit[Math.min(lit.length - 1, Math.floor(config.stretchPercentile * lit.length))];
  const gain = level > 0 ? Math.min(config.maxStretchGain, 255 / level) : 1;
  const pixels = new Float32Array(frame.length);
  for (let i = 0; i < frame.length; i++) pixels[i] = Math.min(255, frame[i] * gain) / 255;
  return { pixels, gain };
}

/** Runs every step on decoded RGB pixels ('mask' and 'hybrid' modes; `render` as fitToFrame takes it). */
export async function preprocessRgb(img: RgbImage, config: PreprocessConfig, render?: FrameRenderer): Promise<{ pixels: Float32Array; info: Omit<PreprocessInfo, 'source'> }> {
  const { width, height } = img;
  const bg = estimateBackground(img, config);
  const blurRadius = Math.round(config.blurFraction * Math.max(width, height));
  const dist = distanceFromBackground(img, bg, blurRadius);
  const { mask, thresholds } = objectMask(dist, width, height, bg, config);
  const object = selectObject(mask, width, height, config);
  if (!object && config.requireObject) throw new UserError('no object stands out from the background (a blank or uniform image?)');
  const fullBox = { x: 0, y: 0, width, height };
  const objectMaskPixels = object?.mask ?? new Uint8Array(width * height);
  const intensity = objectIntensityRgb(img, bg, objectMaskPixels);
  const box = object?.box ?? fullBox;
  const fitted = await fitToFrame(intensity, width, height, box, config, render);
  const { frame, mirrored } = config.orientWide ? orientLikeFashionMnist(fitted, config.size, box, config.orientMinAspect) : { frame: fitted, mirrored: false };
  const { pixels, gain } = stretchContrast(frame, config);
  let area = 0;
  for (let i = 0; i < objectMaskPixels.length; i++) area += objectMaskPixels[i];
  return {
    pixels,
    info: { mode: config.mode, working: { width, height }, background: bg, inverted: bg.light, thresholds, objectFound: object !== null, box, mirrored, objectFraction: area / (width * height), gain },
  };
}
