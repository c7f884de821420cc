/**
 * On-the-fly augmentation, computed in plain JS on the batch's Float32Array so that it is identical
 * on every backend and seeded by our own Rng; labels are never touched. Per image, in this order:
 *  1. the article's: Keras ImageDataGenerator's random affine warp (rotation, shift, shear, zoom,
 *     'nearest' fill), skipped when all its ranges are 0;
 *  2. photo-like distortions (src/train/photo-augment.ts), when asked for;
 *  3. the `best` recipe's: a random crop of the zero-padded image and a random left-right mirror;
 *  4. random erasing of a rectangle.
 *
 * Hand-written: no npm library applies these to a float batch with Keras's exact parameterisation,
 * and the cost (~200k pixels per batch) is negligible next to a training step.
 */
import type { AugmentConfig } from '../runs/types.js';
import { UserError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import { photoDistort } from './photo-augment.js';

export type { AugmentConfig };

/** The article's settings. Shear: we follow current Keras (degrees); `--shear-unit radians` gives Keras 2.1's. */
export const ARTICLE_AUGMENTATION: AugmentConfig = {
  rotationDeg: 8,
  widthShift: 0.08,
  heightShift: 0.08,
  shear: 0.3,
  shearUnit: 'degrees',
  zoom: 0.08,
  interpolation: 'nearest',
  cropPad: 0,
  flip: false,
  erase: 0,
  photo: 0,
};

/** No augmentation at all (every step off). */
export const NO_AUGMENTATION: AugmentConfig = {
  ...ARTICLE_AUGMENTATION,
  rotationDeg: 0,
  widthShift: 0,
  heightShift: 0,
  shear: 0,
  zoom: 0,
};

/** Random erasing's rectangle: its share of the image and its aspect ratio (Zhong et al.'s defaults). */
export const ERASE_AREA = { min: 0.02, max: 0.25 } as const;
export const ERASE_ASPECT = { min: 0.3, max: 1 / 0.3 } as const;

/**
 * The largest crop padding for images of rows x cols: half the short side. A larger pad shifts
 * most of the garment out of the frame, and past the side whole crops are black.
 */
export function maxCropPad(rows: number, cols: number): number {
  return Math.floor(Math.min(rows, cols) / 2);
}

/** Refuses settings that cannot augment images of rows x cols into anything to learn from. */
export function checkAugmentation(cfg: AugmentConfig, rows: number, cols: number): void {
  const max = maxCropPad(rows, cols);
  if (cfg.cropPad > max) throw new UserError(`--crop-pad ${cfg.cropPad}: at most ${max} pixels for ${rows}x${cols} images (half their side; a larger pad crops mostly black)`);
}

/** Whether the affine warp can move a pixel (with every range 0 it is skipped and draws nothing). */
export function hasAffine(cfg: AugmentConfig): boolean {
  return cfg.rotationDeg > 0 || cfg.widthShift > 0 || cfg.heightShift > 0 || cfg.shear > 0 || cfg.zoom > 0;
}

/** A 2x3 affine map from output (row, col) to input (row, col), about the image centre. */
export type Affine = [number, number, number, number, number, number];

export function randomAffine(cfg: AugmentConfig, rng: Rng, rows: number, cols: number): Affine {
  // Draw order and formulas follow keras_preprocessing's get_random_transform / apply_affine_transform.
  const theta = (rng.uniform(-cfg.rotationDeg, cfg.rotationDeg) * Math.PI) / 180;
  const tx = rng.uniform(-cfg.heightShift, cfg.heightShift) * rows;
  const ty = rng.uniform(-cfg.widthShift, cfg.widthShift) * cols;
  const shearRaw = rng.uniform(-cfg.shear, cfg.shear);
  const shear = cfg.shearUnit === 'degrees' ? (shearRaw * Math.PI) / 180 : shearRaw;
  const zx = cfg.zoom > 0 ? rng.uniform(1 - cfg.zoom, 1 + cfg.zoom) : 1;
  const zy = cfg.zoom > 0 ? rng.uniform(1 - cfg.zoom, 1 + cfg.zoom) : 1;
  // M = rotation · shift · shear · zoom (3x3, last row 0 0 1), as in Keras.
  const c = Math.cos(theta), s = Math.sin(theta);
  const rot = [c, -s, 0, s, c, 0];
  const shift = [1, 0, tx, 0, 1, ty];
  const sh = [1, -Math.sin(shear), 0, 0, Math.cos(shear), 0];
  const zoom = [zx, 0, 0, 0, zy, 0];
  return compose(compose(compose(rot, shift), sh), zoom) as Affine;
}

function compose(a: number[], b: number[]): number[] {
  return [
    a[0] * b[0] + a[1] * b[3], a[0] * b[1] + a[1] * b[4], a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3], a[3] * b[1] + a[4] * b[4], a[3] * b[2] + a[4] * b[5] + a[5],
  ];
}

/**
 * Warps one single-channel image: out(r, c) = in(M · ((r, c) - centre) + centre), coordinates
 * outside the image clamped to the nearest edge pixel (Keras fill_mode='nearest'). The centre is
 * Keras's (size / 2 + 0.5, transform_matrix_offset_center), not the geometric (size - 1) / 2.
 */
export function warpImage(src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number, rows: number, cols: number, m: Affine, interpolation: AugmentConfig['interpolation'] = 'bilinear'): void {
  const cy = rows / 2 + 0.5, cx = cols / 2 + 0.5;
  if (interpolation === 'nearest') {
    for (let r = 0; r < rows; r++) {
      const y = r - cy;
      for (let c = 0; c < cols; c++) {
        const x = c - cx;
        // scipy's order=0 rounds half up; clamping after rounding is mode='nearest'.
        let sr = Math.floor(m[0] * y + m[1] * x + m[2] + cy + 0.5);
        let sc = Math.floor(m[3] * y + m[4] * x + m[5] + cx + 0.5);
        sr = sr < 0 ? 0 : sr > rows - 1 ? rows - 1 : sr;
        sc = sc < 0 ? 0 : sc > cols - 1 ? cols - 1 : sc;
        dst[dstOff + r * cols + c] = src[srcOff + sr * cols + sc];
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const y = r - cy;
    for (let c = 0; c < cols; c++) {
      const x = c - cx;
      let sr = m[0] * y + m[1] * x + m[2] + cy;
      let sc = m[3] * y + m[4] * x + m[5] + cx;
      sr = sr < 0 ? 0 : sr > rows - 1 ? rows - 1 : sr;
      sc = sc < 0 ? 0 : sc > cols - 1 ? cols - 1 : sc;
      const r0 = Math.floor(sr), c0 = Math.floor(sc);
      const r1 = r0 + 1 < rows ? r0 + 1 : r0, c1 = c0 + 1 < cols ? c0 + 1 : c0;
      const fr = sr - r0, fc = sc - c0;
      const p00 = src[srcOff + r0 * cols + c0], p01 = src[srcOff + r0 * cols + c1];
      const p10 = src[srcOff + r1 * cols + c0], p11 = src[srcOff + r1 * cols + c1];
      dst[dstOff + r * cols + c] = (p00 * (1 - fc) + p01 * fc) * (1 - fr) + (p10 * (1 - fc) + p11 * fc) * fr;
    }
  }
}

/**
 * Moves one image by (dy, dx) pixels, mirrored left-right first when `mirror`; what comes in from
 * outside is black (0), as padding by `cropPad` and cropping at a random place would give.
 */
export function shiftImage(img: Float32Array, off: number, rows: number, cols: number, dy: number, dx: number, mirror: boolean): void {
  const src = img.slice(off, off + rows * cols);
  for (let r = 0; r < rows; r++) {
    const sr = r + dy;
    for (let c = 0; c < cols; c++) {
      const sc = (mirror ? cols - 1 - c : c) + dx;
      img[off + r * cols + c] = sr >= 0 && sr < rows && sc >= 0 && sc < cols ? src[sr * cols + sc] : 0;
    }
  }
}

/** Random erasing: a rectangle of random area and aspect ratio, at a random place, filled with uniform noise. */
export function eraseRectangle(img: Float32Array, off: number, rows: number, cols: number, rng: Rng): void {
  // Zhong et al. redraw until the rectangle fits; a bounded number of tries keeps the cost fixed.
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = rng.uniform(ERASE_AREA.min, ERASE_AREA.max) * rows * cols;
    const aspect = Math.exp(rng.uniform(Math.log(ERASE_ASPECT.min), Math.log(ERASE_ASPECT.max)));
    const h = Math.round(Math.sqrt(area * aspect)), w = Math.round(Math.sqrt(area / aspect));
    if (h < 1 || w < 1 || h > rows || w > cols) continue;
    const top = rng.int(rows - h + 1), left = rng.int(cols - w + 1);
    for (let r = top; r < top + h; r++) for (let c = left; c < left + w; c++) img[off + r * cols + c] = rng.next();
    return;
  }
}

/** Augments `count` single-channel images of rows x cols stored back to back; returns a new array. */
export function augmentBatch(x: Float32Array, count: number, rows: number, cols: number, cfg: AugmentConfig, rng: Rng): Float32Array {
  const size = rows * cols;
  const affine = hasAffine(cfg);
  const out = affine ? new Float32Array(count * size) : x.slice(0, count * size);
  for (let i = 0; i < count; i++) {
    const off = i * size;
    if (affine) warpImage(x, off, out, off, rows, cols, randomAffine(cfg, rng, rows, cols), cfg.interpolation);
    if (cfg.photo > 0 && rng.next() < cfg.photo) photoDistort(out, off, rows, cols, rng);
    if (cfg.cropPad > 0 || cfg.flip) {
      const mirror = cfg.flip && rng.next() < 0.5;
      const dy = cfg.cropPad > 0 ? rng.int(2 * cfg.cropPad + 1) - cfg.cropPad : 0;
      const dx = cfg.cropPad > 0 ? rng.int(2 * cfg.cropPad + 1) - cfg.cropPad : 0;
      shiftImage(out, off, rows, cols, dy, dx, mirror);
    }
    if (cfg.erase > 0 && rng.next() < cfg.erase) eraseRectangle(out, off, rows, cols, rng);
  }
  return out;
}
