/**
 * Small binary-image operations on row-major buffers: blur, Otsu, hysteresis, morphology,
 * hole filling and connected components.
 *
 * Hand-written because no well-kept npm package does these on plain typed arrays without pulling
 * in an image framework (opencv.js is ~10 MB of wasm); each is a few lines and is exercised by
 * test/unit/predict-mask.test.ts.
 */

/**
 * The pixel stack of the flood fills below, reused from call to call (each fill runs to its end
 * synchronously, and a worker thread has its own copy of this module): a fresh one per call was a
 * large zeroed allocation per step and per photo.
 */
let stackBuffer = new Int32Array(0);
function pixelStack(n: number): Int32Array {
  if (stackBuffer.length < n) stackBuffer = new Int32Array(n);
  return stackBuffer;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Mean over a (2r+1)^2 window, edges clamped; separable running sums, O(n) for any r. The vertical
 * pass walks the image row by row with one running sum per column (a column at a time would stride
 * through memory); each column's sums are the same additions in the same order either way.
 */
export function boxBlur(values: Float32Array, width: number, height: number, r: number): Float32Array {
  if (r <= 0) return values.slice();
  const tmp = new Float32Array(values.length);
  const out = new Float32Array(values.length);
  const d = 2 * r + 1;
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let sum = 0;
    for (let i = -r; i <= r; i++) sum += values[base + Math.min(width - 1, Math.max(0, i))];
    for (let x = 0; x < width; x++) {
      tmp[base + x] = sum / d;
      sum += values[base + Math.min(width - 1, x + r + 1)] - values[base + Math.max(0, x - r)];
    }
  }
  const sums = new Float64Array(width);
  for (let i = -r; i <= r; i++) {
    const row = Math.min(height - 1, Math.max(0, i)) * width;
    for (let x = 0; x < width; x++) sums[x] += tmp[row + x];
  }
  for (let y = 0; y < height; y++) {
    const base = y * width;
    const enter = Math.min(height - 1, y + r + 1) * width;
    const leave = Math.max(0, y - r) * width;
    for (let x = 0; x < width; x++) {
      out[base + x] = sums[x] / d;
      sums[x] += tmp[enter + x] - tmp[leave + x];
    }
  }
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

/**
 * Hysteresis thresholding: pixels above `strong` seed the mask, pixels above `weak` join when
 * 8-connected to a seed. Faint parts of an object stay; faint noise away from it goes.
 */
export function hysteresis(values: Float32Array, width: number, height: number, weak: number, strong: number): Uint8Array {
  const mask = new Uint8Array(values.length);
  // A pixel is pushed when it joins the mask, so at most once: the stack never outgrows the image.
  const stack = pixelStack(values.length);
  let top = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > strong) {
      mask[i] = 1;
      stack[top++] = i;
    }
  }
  while (top > 0) {
    const i = stack[--top];
    const x = i % width;
    const y = (i - x) / width;
    const dx0 = x > 0 ? -1 : 0;
    const dx1 = x < width - 1 ? 1 : 0;
    const dy0 = y > 0 ? -1 : 0;
    const dy1 = y < height - 1 ? 1 : 0;
    for (let dy = dy0; dy <= dy1; dy++) {
      for (let dx = dx0; dx <= dx1; dx++) {
        const j = i + dy * width + dx;
        if (!mask[j] && values[j] > weak) {
          mask[j] = 1;
          stack[top++] = j;
        }
      }
    }
  }
  return mask;
}

/**
 * Max (dilate) or min (erode) over a (2r+1)^2 square, separable. Pixels outside the image never
 * decide: an edge neither grows a dilation nor eats into an erosion. A pixel's window holds a
 * deciding pixel (1 when dilating, 0 when eroding) exactly when the latest deciding pixel at or
 * before the window's far end lies inside it, so each 1-D pass remembers that position and costs
 * O(1) per pixel whatever r is (a photo's closing radius is tens of pixels). The vertical pass goes
 * row by row, one remembered row per column, in memory order.
 */
function squareFilter(mask: Uint8Array, width: number, height: number, r: number, dilate: boolean): Uint8Array {
  const hit = dilate ? 1 : 0;
  const miss = 1 - hit;
  const none = -r - 2;
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let last = none;
    for (let k = 0; k < r && k < width; k++) if (mask[base + k] === hit) last = k;
    let x = 0;
    for (; x < width - r; x++) {
      if (mask[base + x + r] === hit) last = x + r;
      rows[base + x] = last >= x - r ? hit : miss;
    }
    for (; x < width; x++) rows[base + x] = last >= x - r ? hit : miss;
  }
  const out = new Uint8Array(mask.length);
  const lastRow = new Int32Array(width).fill(none);
  for (let k = 0; k < r && k < height; k++) {
    const row = k * width;
    for (let x = 0; x < width; x++) if (rows[row + x] === hit) lastRow[x] = k;
  }
  for (let y = 0; y < height; y++) {
    const base = y * width;
    const enter = y + r;
    const first = y - r;
    if (enter < height) {
      const row = enter * width;
      for (let x = 0; x < width; x++) {
        if (rows[row + x] === hit) lastRow[x] = enter;
        out[base + x] = lastRow[x] >= first ? hit : miss;
      }
    } else {
      for (let x = 0; x < width; x++) out[base + x] = lastRow[x] >= first ? hit : miss;
    }
  }
  return out;
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
  // out starts as "a hole" everywhere; a background pixel reached from the border is set to 0 and
  // pushed, so at most once.
  const out = new Uint8Array(mask.length).fill(1);
  const stack = pixelStack(mask.length);
  let top = 0;
  const seed = (i: number) => {
    if (!mask[i] && out[i]) {
      out[i] = 0;
      stack[top++] = i;
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
  const last = mask.length - width;
  while (top > 0) {
    const i = stack[--top];
    const x = i % width;
    let j = i - 1;
    if (x > 0 && !mask[j] && out[j]) {
      out[j] = 0;
      stack[top++] = j;
    }
    j = i + 1;
    if (x < width - 1 && !mask[j] && out[j]) {
      out[j] = 0;
      stack[top++] = j;
    }
    j = i - width;
    if (i >= width && !mask[j] && out[j]) {
      out[j] = 0;
      stack[top++] = j;
    }
    j = i + width;
    if (i < last && !mask[j] && out[j]) {
      out[j] = 0;
      stack[top++] = j;
    }
  }
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
  // A pixel is pushed when labelled, so at most once.
  const stack = pixelStack(mask.length);
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = components.length + 1;
    let area = 0;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    labels[start] = label;
    let top = 0;
    stack[top++] = start;
    while (top > 0) {
      const i = stack[--top];
      const x = i % width;
      const y = (i - x) / width;
      area++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      const dx0 = x > 0 ? -1 : 0;
      const dx1 = x < width - 1 ? 1 : 0;
      const dy0 = y > 0 ? -1 : 0;
      const dy1 = y < height - 1 ? 1 : 0;
      for (let dy = dy0; dy <= dy1; dy++) {
        for (let dx = dx0; dx <= dx1; dx++) {
          const j = i + dy * width + dx;
          if (mask[j] && !labels[j]) {
            labels[j] = label;
            stack[top++] = j;
          }
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
