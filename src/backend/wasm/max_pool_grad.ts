/**
 * MaxPoolGrad for the wasm backend, replacing the stock kernel, which is both slow (it recomputes
 * the pooling through a generic 3-D pooling template: ~0.4 s per step of cnn1 at batch 256) and
 * wrong when a window holds no positive value: it starts its running maximum at the smallest
 * positive float instead of -infinity, so such windows pass no gradient at all. That happens in
 * cnn4, where max-pooling follows batch normalisation and sees negative values.
 *
 * This one follows the 'cpu' backend's rule: each window's gradient goes to the first position
 * holding its maximum (row-major within the window); a window of only NaN or -inf passes none.
 */
import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { f32Data, WASM } from './heap.js';

interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function maxPoolGrad(args: { inputs: { dy: TensorInfo; input: TensorInfo }; backend: BackendWasm; attrs: MaxPoolGradAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs;
  if (dy.dtype !== 'float32' || input.dtype !== 'float32') {
    throw new Error(`wasm MaxPoolGrad: float32 inputs expected (got ${dy.dtype}, ${input.dtype})`);
  }
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const dx = backend.makeOutput([...input.shape], 'float32');
  const x = f32Data(backend, input);
  const g = f32Data(backend, dy);
  const d = f32Data(backend, dx);
  d.fill(0);
  const { batchSize, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const channels = info.inChannels;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const tiled2x2 = filterHeight === 2 && filterWidth === 2 && strideHeight === 2 && strideWidth === 2 &&
    padTop === 0 && padLeft === 0 && 2 * outHeight <= inHeight && 2 * outWidth <= inWidth;
  if (tiled2x2) {
    // The models' case (2x2 windows side by side, inside the image): straight-line, no scratch.
    const rowX = inWidth * channels;
    let dyAt = 0;
    for (let n = 0; n < batchSize; n++) {
      for (let oh = 0; oh < outHeight; oh++) {
        let at = (n * inHeight + 2 * oh) * rowX;
        for (let ow = 0; ow < outWidth; ow++, at += 2 * channels, dyAt += channels) {
          for (let c = 0; c < channels; c++) {
            const p0 = at + c;
            const p1 = p0 + channels;
            const p2 = p0 + rowX;
            const p3 = p2 + channels;
            let best = -Infinity;
            let bestAt = -1;
            if (x[p0] > best) { best = x[p0]; bestAt = p0; }
            if (x[p1] > best) { best = x[p1]; bestAt = p1; }
            if (x[p2] > best) { best = x[p2]; bestAt = p2; }
            if (x[p3] > best) { bestAt = p3; }
            if (bestAt >= 0) d[bestAt] += g[dyAt + c];
          }
        }
      }
    }
    return dx;
  }
  const best = new Float32Array(channels);
  const bestAt = new Int32Array(channels);
  let dyAt = 0;
  for (let n = 0; n < batchSize; n++) {
    const image = n * inHeight * inWidth * channels;
    for (let oh = 0; oh < outHeight; oh++) {
      const ih0 = oh * strideHeight - padTop;
      const khMin = Math.max(0, -ih0);
      const khMax = Math.min(filterHeight, inHeight - ih0);
      for (let ow = 0; ow < outWidth; ow++, dyAt += channels) {
        const iw0 = ow * strideWidth - padLeft;
        const kwMin = Math.max(0, -iw0);
        const kwMax = Math.min(filterWidth, inWidth - iw0);
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let kh = khMin; kh < khMax; kh++) {
          for (let kw = kwMin; kw < kwMax; kw++) {
            const at = image + ((ih0 + kh) * inWidth + iw0 + kw) * channels;
            for (let c = 0; c < channels; c++) {
              const v = x[at + c];
              if (v > best[c]) {
                best[c] = v;
                bestAt[c] = at + c;
              }
            }
          }
        }
        for (let c = 0; c < channels; c++) {
          if (bestAt[c] >= 0) d[bestAt[c]] += g[dyAt + c];
        }
      }
    }
  }
  return dx;
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: WASM,
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};
