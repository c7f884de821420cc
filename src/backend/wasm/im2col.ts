/**
 * Patch extraction between an NHWC image batch and the "column" matrices that turn a convolution
 * into a matrix product. Hand-written: TF.js has no public im2col, and these loops run on the
 * wasm heap in place (no copies through tensors).
 *
 * Row m of a column matrix is one output position (n, oh, ow), m = (n*outH + oh)*outW + ow;
 * column k is one filter tap (kh, kw, ci), k = (kh*filterW + kw)*inC + ci, the order of the
 * filter tensor [filterH, filterW, inC, outC].
 */

export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  filterH: number;
  filterW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padLeft: number;
}

/** Filter taps per output position: the shared dimension of the matrix products. */
export function tapCount(g: ConvGeometry): number {
  return g.filterH * g.filterW * g.inC;
}

/** Output positions in the whole batch. */
export function positionCount(g: ConvGeometry): number {
  return g.batch * g.outH * g.outW;
}

/**
 * Writes the transposed column matrix for output positions [m0, m0+len) into `out`, laid out
 * [taps, len] (row k holds tap k for every position), zero where a tap falls in the padding.
 * Transposed because dW = colsᵀ·dy then becomes a plain product with dy as the packed operand.
 */
export function im2colTransposed(x: Float32Array, g: ConvGeometry, m0: number, len: number, out: Float32Array): void {
  const { inH, inW, inC, outH, outW, filterH, filterW, strideH, strideW, dilationH, dilationW, padTop, padLeft } = g;
  const rowStrideX = inW * inC;
  const imageStrideX = inH * rowStrideX;
  for (let kh = 0; kh < filterH; kh++) {
    for (let kw = 0; kw < filterW; kw++) {
      const tapBase = (kh * filterW + kw) * inC;
      // Walk positions one output row (n, oh) at a time, so the inner loop has no divisions.
      let m = m0;
      let j = 0;
      while (j < len) {
        const n = Math.floor(m / (outH * outW));
        const rem = m - n * outH * outW;
        const oh = Math.floor(rem / outW);
        const ow0 = rem - oh * outW;
        const count = Math.min(outW - ow0, len - j);
        const ih = oh * strideH + kh * dilationH - padTop;
        if (ih < 0 || ih >= inH) {
          for (let ci = 0; ci < inC; ci++) out.fill(0, (tapBase + ci) * len + j, (tapBase + ci) * len + j + count);
        } else {
          const rowBaseX = n * imageStrideX + ih * rowStrideX;
          if (inC === 1) {
            const dst = tapBase * len + j;
            for (let t = 0; t < count; t++) {
              const iw = (ow0 + t) * strideW + kw * dilationW - padLeft;
              out[dst + t] = iw >= 0 && iw < inW ? x[rowBaseX + iw] : 0;
            }
          } else {
            for (let t = 0; t < count; t++) {
              const iw = (ow0 + t) * strideW + kw * dilationW - padLeft;
              let dst = tapBase * len + j + t;
              if (iw >= 0 && iw < inW) {
                const src = rowBaseX + iw * inC;
                for (let ci = 0; ci < inC; ci++, dst += len) out[dst] = x[src + ci];
              } else {
                for (let ci = 0; ci < inC; ci++, dst += len) out[dst] = 0;
              }
            }
          }
        }
        j += count;
        m += count;
      }
    }
  }
}

/**
 * Adds the column matrix `cols` ([len, taps], positions [m0, m0+len)) back into the image batch
 * `dx` (the adjoint of im2col): each tap's value goes to the input pixel it was read from.
 */
export function col2imAdd(cols: Float32Array, g: ConvGeometry, m0: number, len: number, dx: Float32Array): void {
  const { inH, inW, inC, outH, outW, filterH, filterW, strideH, strideW, dilationH, dilationW, padTop, padLeft } = g;
  const taps = tapCount(g);
  const rowStrideX = inW * inC;
  const imageStrideX = inH * rowStrideX;
  for (let j = 0; j < len; j++) {
    const m = m0 + j;
    const n = Math.floor(m / (outH * outW));
    const rem = m - n * outH * outW;
    const oh = Math.floor(rem / outW);
    const ow = rem - oh * outW;
    const colBase = j * taps;
    for (let kh = 0; kh < filterH; kh++) {
      const ih = oh * strideH + kh * dilationH - padTop;
      if (ih < 0 || ih >= inH) continue;
      for (let kw = 0; kw < filterW; kw++) {
        const iw = ow * strideW + kw * dilationW - padLeft;
        if (iw < 0 || iw >= inW) continue;
        const dst = n * imageStrideX + ih * rowStrideX + iw * inC;
        const src = colBase + (kh * filterW + kw) * inC;
        for (let ci = 0; ci < inC; ci++) dx[dst + ci] += cols[src + ci];
      }
    }
  }
}

