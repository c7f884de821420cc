/**
 * Settings of the photo -> Fashion-MNIST pipeline, in one typed place so that the CLI, the library
 * and the tests use the same defaults and can override single fields.
 */
import { IMAGE_SIZE } from '../data/types.js';
import { UserError } from '../util/errors.js';

/** Limits that keep a hostile or accidental input from exhausting memory. */
export interface DecodeLimits {
  /** Largest file (or upload) accepted, in bytes. */
  maxFileBytes: number;
  /** Largest width x height accepted; checked by sharp from the header, before decoding. */
  maxPixels: number;
  /**
   * How strict decoding is about damaged data (sharp's `failOn`): 'warning' refuses corrupt and
   * truncated files instead of classifying a half-grey picture.
   */
  failOn: 'none' | 'truncated' | 'error' | 'warning';
  /** Smallest width and height accepted: below this there is no garment to see. */
  minSide: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxFileBytes: 50 * 1024 * 1024,
  maxPixels: 50_000_000,
  failOn: 'warning',
  minSide: 8,
};

/**
 * How a photo is brought to Fashion-MNIST's form:
 * - 'mask': find the background (border colours), mask the object that stands out from it, crop it,
 *   fit it smoothly (lanczos) and stretch its contrast; light backgrounds are inverted, dark ones not.
 * - 'paper': the data set's own conversion of Zalando's catalogue photos (Xiao, Rasul and Vollgraf,
 *   2017, section 2), step by step: trim the corner colour, subsample the long edge to 28, sharpen,
 *   centre, negate, grey. Made for products on a white page; it always negates.
 * - 'hybrid': 'mask' to find and crop the object, the paper's rendering (rows and columns
 *   subsampled, not averaged, then sharpened) to shrink it.
 */
export type PreprocessMode = 'mask' | 'paper' | 'hybrid';

export const PREPROCESS_MODES: readonly PreprocessMode[] = ['mask', 'paper', 'hybrid'];

/** The paper's conversion ('paper' mode). */
export interface PaperConfig {
  /**
   * Trim threshold, as a fraction of the largest RGB distance (the paper: 5%). sharp compares each
   * channel with the background, so this becomes a per-channel threshold of fraction x 255: the same
   * cut as a Euclidean distance of fraction x 441.7 for grey differences, the usual ones on a white page.
   */
  trimFraction: number;
  /** Gaussian sharpening after the shrink; the paper: radius and sigma 1.0. */
  sharpenSigma: number;
  /**
   * The photo's long side is first brought down to at most this by subsampling too (same kernel),
   * so a huge photo costs no more than a large one. (A JPEG or WebP over twice this size may be
   * shrunk on load by libvips, which averages blocks: the one place the paper mode is not pure
   * subsampling.)
   */
  maxSide: number;
}

export interface PreprocessConfig {
  mode: PreprocessMode;
  paper: PaperConfig;
  limits: DecodeLimits;
  /** The photo is first shrunk so its long side is at most this (speed, and it averages JPEG noise). */
  workingSize: number;
  /** Width of the border ring whose median colour is taken as the background, as a fraction of the short side. */
  borderFraction: number;
  /** Border noise (colour distance) from which the background counts as textured and gets a palette of colours. */
  texturedNoise: number;
  /** Most colours in a textured background's palette (k of k-means). */
  paletteSize: number;
  /** Palette colours covering less of the border than this share are dropped (likely the object touching the edge). */
  paletteMinShare: number;
  /** Background grey level (0-255) at or above which the background counts as light (and the photo is inverted). */
  lightBackgroundMin: number;
  /** Radius (fraction of the working long side) of the box blur applied to the distance-from-background map. */
  blurFraction: number;
  /**
   * Object mask by hysteresis: pixels whose colour distance from the background exceeds the
   * strong threshold seed the object; pixels above the weak threshold join it when connected to
   * a seed. The strong threshold is `strongOtsuFraction` of Otsu's threshold on the distance map.
   */
  strongOtsuFraction: number;
  /** Weak threshold: the larger of this many times the background's noise (MAD of the border ring) ... */
  weakNoiseFactor: number;
  /** ... and this absolute colour distance (0-441). */
  weakMin: number;
  /** Strong threshold never goes below this colour distance. */
  strongMin: number;
  /** Radius of the morphological opening that removes thin lines and specks, as a fraction of the working long side. */
  openFraction: number;
  /** Radius of the morphological closing that joins parts of one object, as a fraction of the working long side. */
  closeFraction: number;
  /** Besides the largest component, components at least this fraction of its area ... */
  minComponentFraction: number;
  /** ... with at least this share of their box inside its box are part of the object. */
  insideShare: number;
  /** Extra margin around the object's box before fitting, as a fraction of its long side (Fashion-MNIST uses none). */
  cropMargin: number;
  /**
   * Refuse an image in which no object stands out from the background (blank, uniform), instead of
   * classifying an empty frame with a made-up confidence.
   */
  requireObject: boolean;
  /** Output frame side (Fashion-MNIST: 28). */
  size: number;
  /** sharp resampling kernel for the shrink to `size`. */
  kernel: 'nearest' | 'lanczos3' | 'mitchell' | 'cubic' | 'linear';
  /** Sigma of sharp's unsharp mask after the shrink (Fashion-MNIST's own pipeline sharpened); 0 = off. */
  sharpenSigma: number;
  /** Mirror wide objects so their higher end is on the right, as Fashion-MNIST's shoes face (see orientLikeFashionMnist). */
  orientWide: boolean;
  /**
   * Objects at least this many times as wide as tall count as wide. In Fashion-MNIST's training set
   * 0.9 takes in 98-100% of sneakers, sandals and ankle boots and 0-11% of each garment class.
   */
  orientMinAspect: number;
  /** The object's brightest `stretchPercentile` of pixels map to 255 ... */
  stretchPercentile: number;
  /** ... but never amplify by more than this (a blank photo stays dark instead of showing its noise). */
  maxStretchGain: number;
}

export const DEFAULT_PAPER_CONFIG: PaperConfig = {
  trimFraction: 0.05,
  sharpenSigma: 1,
  maxSide: 2048,
};

export const DEFAULT_PREPROCESS_MODE: PreprocessMode = 'mask';

export const DEFAULT_PREPROCESS_CONFIG: PreprocessConfig = {
  mode: DEFAULT_PREPROCESS_MODE,
  paper: DEFAULT_PAPER_CONFIG,
  limits: DEFAULT_DECODE_LIMITS,
  workingSize: 256,
  borderFraction: 0.03,
  texturedNoise: 12,
  paletteSize: 4,
  paletteMinShare: 0.15,
  lightBackgroundMin: 128,
  blurFraction: 0.006,
  strongOtsuFraction: 0.6,
  weakNoiseFactor: 4,
  weakMin: 18,
  strongMin: 30,
  openFraction: 0.004,
  closeFraction: 0.015,
  minComponentFraction: 0.05,
  insideShare: 0.5,
  cropMargin: 0,
  requireObject: true,
  size: IMAGE_SIZE,
  kernel: 'lanczos3',
  sharpenSigma: 0,
  orientWide: true,
  orientMinAspect: 0.9,
  stretchPercentile: 0.99,
  maxStretchGain: 6,
};

/** What each mode changes from the defaults ('hybrid' is 'mask' with the paper's rendering). */
const MODE_PRESETS: Record<PreprocessMode, Partial<PreprocessConfig>> = {
  mask: {},
  paper: {},
  hybrid: { kernel: 'nearest', sharpenSigma: DEFAULT_PAPER_CONFIG.sharpenSigma },
};

export type PreprocessOverride = Partial<Omit<PreprocessConfig, 'limits' | 'paper'>> & { limits?: Partial<DecodeLimits>; paper?: Partial<PaperConfig> };

/** Merges a partial override (limits and paper settings included) onto the chosen mode's defaults. */
export function resolvePreprocessConfig(override: PreprocessOverride = {}): PreprocessConfig {
  const mode = override.mode ?? DEFAULT_PREPROCESS_CONFIG.mode;
  if (!PREPROCESS_MODES.includes(mode)) throw new UserError(`unknown preprocessing mode "${String(mode)}" (one of ${PREPROCESS_MODES.join(', ')})`);
  return {
    ...DEFAULT_PREPROCESS_CONFIG,
    ...MODE_PRESETS[mode],
    ...override,
    mode,
    limits: { ...DEFAULT_PREPROCESS_CONFIG.limits, ...override.limits },
    paper: { ...DEFAULT_PREPROCESS_CONFIG.paper, ...override.paper },
  };
}
