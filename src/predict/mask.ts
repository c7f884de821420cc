/**
 * Small binary-image operations on row-major buffers: blur, Otsu, hysteresis, morphology,
 * hole filling and connected components.
 *
 * Hand-written because no well-kept npm package does these on plain typed arrays without pulling
 * in an image framework (opencv.js is ~10 MB of wasm); each is a few lines and is exercised by
 * test/predict-mask.test.ts.
 */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Mean over a (2r+1)^2 window, edges clamped; separable running sums, O(n) for any r. */
export function boxBlur(values: Float32Array, width: number, height: number, r: number): Float32Array {
  if (r <= 0) return values.slice();
  const tmp = new Float32Array(values.length);
  const out = new Float32Array(values.length);
  const pass = (src: Float32Array, dst: Float32Array, len: number, lines: number, at: (line: number, i: number) => number) => {
    for (let line = 0; line < lines; line++) {
      let sum = 0;
      for (let i = -r; i <= r; i++) sum += src[at(line, Math.min(len - 1, Math.max(0, i)))];
      for (let i = 0; i < len; i++) {
        dst[at(line, i)] = sum / (2 * r + 1);
        sum += src[at(line, Math.min(len - 1, i + r + 1))] - src[at(line, Math.max(0, i - r))];
      }
    }
  };
  pass(values, tmp, width, height, (y, x) => y * width + x);
  pass(tmp, out, height, width, (x, y) => y * width + x);
  return out;
}

/** Otsu's threshold over non-negative values (integer bins up to `maxValue`): the cut maximising between-class variance. */
export function otsuThreshold(values: ArrayLike<number>, maxValue: number): number {
  const bins = Math.ceil(maxValue) + 1;
  const hist = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) hist[Math.min(bins - 1, Math.max(0, Math.round(values[i])))]++;
  let total = 0;
  let sumAll = 0;
  for (let t = 0; t < bins; t++) {
    total += hist[t];
    sumAll += t * hist[t];
  }
  let wB = 0;
  let sumB = 0;
  let bestVar = -1;
  let bestFrom = 0;
  let bestTo = 0;
  for (let t = 0; t < bins; t++) {
    wB += hist[t];
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += t * hist[t];
    const mB = sumB / wB;
    const mF = (sumAll - sumB) / wF;
    const between = wB * wF * (mB - mF) * (mB - mF);
    // Cuts anywhere in an empty stretch of the histogram are equally good; take its middle.
    if (between > bestVar * (1 + 1e-9)) {
      bestVar = between;
      bestFrom = t;
      bestTo = t;
    } else if (between >= bestVar * (1 - 1e-9) && bestTo === t - 1) {
      bestTo = t;
    }
  }
  return (bestFrom + bestTo) / 2 + 0.5;
}

const NEIGHBOURS_8: ReadonlyArray<readonly [number, number]> = [[-1, -1], [0, -1], [1, -1], [-1, 0], [1, 0], [-1, 1], [0, 1], [1, 1]];

/**
 * Hysteresis thresholding: pixels above `strong` seed the mask, pixels above `weak` join when
 * 8-connected to a seed. Faint parts of an object stay; faint noise away from it goes.
 */
export function hysteresis(values: Float32Array, width: number, height: number, weak: number, strong: number): Uint8Array {
  const mask = new Uint8Array(values.length);
  const stack: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] > strong) {
      mask[i] = 1;
      stack.push(i);
    }
  }
  while (stack.length > 0) {
    const i = stack.pop()!;
    const x = i % width;
    const y = (i - x) / width;
    for (const [dx, dy] of NEIGHBOURS_8) {
      const nx = x + dx;
      const ny = y + dy;
      if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
      const j = ny * width + nx;
      if (!mask[j] && values[j] > weak) {
        mask[j] = 1;
        stack.push(j);
      }
    }
  }
  return mask;
}

/**
 * Max (dilate) or min (erode) over a (2r+1)^2 square, separable. Pixels outside the image never
 * decide: an edge neither grows a dilation nor eats into an erosion. Each 1-D pass keeps a running
 * count of the window's deciding pixels, so it costs O(1) per pixel whatever r is (a photo's
 * closing radius is tens of pixels: scanning the window per pixel made it the slowest step).
 */
function squareFilter(mask: Uint8Array, width: number, height: number, r: number, dilate: boolean): Uint8Array {
  const hit = dilate ? 1 : 0;
  const pass = (src: Uint8Array, horizontal: boolean): Uint8Array => {
    const dst = new Uint8Array(src.length);
    const lines = horizontal ? height : width;
    const len = horizontal ? width : height;
    const step = horizontal ? 1 : width;
    for (let line = 0; line < lines; line++) {
      const base = horizontal ? line * width : line;
      let count = 0;
      for (let k = 0; k < r && k < len; k++) if (src[base + k * step] === hit) count++;
      for (let i = 0; i < len; i++) {
        const enter = i + r;
        if (enter < len && src[base + enter * step] === hit) count++;
        const leave = i - r - 1;
        if (leave >= 0 && src[base + leave * step] === hit) count--;
        dst[base + i * step] = count > 0 ? hit : 1 - hit;
      }
    }
    return dst;
  };
  return pass(pass(mask, true), false);
}

export function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  return r <= 0 ? mask.slice() : squareFilter(mask, width, height, r, true);
}

export function erode(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  return r <= 0 ? mask.slice() : squareFilter(mask, width, height, r, false);
}

/**
 * Closing: joins parts separated by gaps narrower than ~2r without growing the outline. Done on a
 * copy padded with 2r of background, so that neither the image edge nor the padding adds pixels.
 */
export function close(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice();
  const pad = 2 * r;
  const pw = width + 2 * pad;
  const ph = height + 2 * pad;
  const padded = new Uint8Array(pw * ph);
  for (let y = 0; y < height; y++) padded.set(mask.subarray(y * width, (y + 1) * width), (y + pad) * pw + pad);
  const closed = squareFilter(squareFilter(padded, pw, ph, r, true), pw, ph, r, false);
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) out.set(closed.subarray((y + pad) * pw + pad, (y + pad) * pw + pad + width), y * width);
  return out;
}

/** Opening: removes specks and lines narrower than ~2r+1 without shrinking what remains. */
export function open(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  return dilate(erode(mask, width, height, r), width, height, r);
}

/** Sets every background pixel that cannot reach the image border (4-connected) to 1. */
export function fillHoles(mask: Uint8Array, width: number, height: number): Uint8Array {
  const reached = new Uint8Array(mask.length);
  const stack: number[] = [];
  const seed = (i: number) => {
    if (!mask[i] && !reached[i]) {
      reached[i] = 1;
      stack.push(i);
    }
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  while (stack.length > 0) {
    const i = stack.pop()!;
    const x = i % width;
    if (x > 0) seed(i - 1);
    if (x < width - 1) seed(i + 1);
    if (i >= width) seed(i - width);
    if (i < mask.length - width) seed(i + width);
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = reached[i] ? 0 : 1;
  return out;
}

export interface Component {
  label: number;
  area: number;
  box: Box;
}

/** 8-connected components: a label per pixel (0 = background, 1..n) and each component's area and box. */
export function connectedComponents(mask: Uint8Array, width: number, height: number): { labels: Int32Array; components: Component[] } {
  const labels = new Int32Array(mask.length);
  const components: Component[] = [];
  const stack: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = components.length + 1;
    let area = 0;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    labels[start] = label;
    stack.push(start);
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      area++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (const [dx, dy] of NEIGHBOURS_8) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const j = ny * width + nx;
        if (mask[j] && !labels[j]) {
          labels[j] = label;
          stack.push(j);
        }
      }
    }
    components.push({ label, area, box: { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 } });
  }
  return { labels, components };
}

export function boxUnion(a: Box, b: Box): Box {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y };
}

export function boxIntersection(a: Box, b: Box): Box {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  return { x, y, width: Math.max(0, Math.min(a.x + a.width, b.x + b.width) - x), height: Math.max(0, Math.min(a.y + a.height, b.y + b.height) - y) };
}

export function boxArea(b: Box): number {
  return b.width * b.height;
}
