/**
 * On-the-fly augmentation as Keras's ImageDataGenerator does it (rotation, shift, shear, zoom,
 * 'nearest' fill, bilinear sampling), computed in plain JS on the batch's Float32Array so that it is
 * identical on every backend and seeded by our own Rng. Labels are never touched.
 *
 * Hand-written: no npm library applies a random affine warp to a float batch with Keras's exact
 * parameterisation, and the cost (~200k pixels per batch) is negligible next to a training step.
 */
import type { AugmentConfig } from '../runs/types.js';
import type { Rng } from '../util/rng.js';

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
};

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

/** Augments `count` single-channel images of rows x cols stored back to back; returns a new array. */
export function augmentBatch(x: Float32Array, count: number, rows: number, cols: number, cfg: AugmentConfig, rng: Rng): Float32Array {
  const out = new Float32Array(count * rows * cols);
  const size = rows * cols;
  for (let i = 0; i < count; i++) warpImage(x, i * size, out, i * size, rows, cols, randomAffine(cfg, rng, rows, cols), cfg.interpolation);
  return out;
}
