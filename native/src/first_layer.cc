// A network's first layer, when it is a 3x3 convolution of a one-channel image: the forward pass
// (first_conv_forward, see first_layer.h), and the backward pass when the layer is "convolution
// (+ bias) + ReLU, then 2x2 max pooling": the filter and bias gradients straight from the pooled
// gradient, in one pass, without writing the layer's full-size gradient (dyAct, four times the
// pooled one, three quarters zeros) and reading it back for the filter gradient. The images need no
// gradient, so dyAct has no other use.
//
// For each pooled value the gradient goes to its window's first maximum, times step(y) (ReLU),
// exactly as MaxPoolGrad then the ReLU gradient give it (NaN in y gives NaN, as there); then
//   dw[kh, kw, oc] = sum over the batch and the conv outputs of dyAct * x[ih + kh, iw + kw]
//   bias[oc]       = sum of dyAct.
// The same terms as oneDNN's filter gradient of dyAct, summed in another order: per image in
// float, then over the images in their order in double, so that the result does not depend on the
// number of threads.
//
// Arguments: slots::convPoolFilterGrad (param-layout.json; filled by
// src/backend/native/kernels/fused.ts): x, y (the layer's ReLU output, the pooling's input),
// dyPool, dw, bias (or -1), the convolution's geometry and the pooling's, relu.
#include <omp.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "common.h"
#include "first_layer.h"
#include "pool.h"

// Multiply-adds as fused multiply-adds here (the rest of the addon keeps TF.js's separate rounding):
// deterministic all the same, and half the instructions.
#pragma GCC optimize("fp-contract=fast")

namespace fcnn {
namespace {

namespace arg = slots::convPoolFilterGrad;

// One image (H x W, one channel) into `padded` (xh x xw) at the convolution's padding, zeros
// around it, so that every 3x3 window is read without bounds checks.
template <typename Geometry>
void pad_image(const Geometry& g, const float* image, int64_t xw, int64_t xh, std::vector<float>& padded) {
  std::fill(padded.begin(), padded.end(), 0.f);
  for (int64_t r = 0; r < xh; r++) {
    const int64_t ih = r - g.padT;
    if (ih < 0 || ih >= g.H) continue;
    for (int64_t c = 0; c < xw; c++) {
      const int64_t iw = c - g.padL;
      if (iw >= 0 && iw < g.W) padded[r * xw + c] = image[ih * g.W + iw];
    }
  }
}

struct ConvGeom {
  int64_t N, H, W, C, KH, KW, OC, OH, OW, SH, SW, DH, DW, padT, padL, padB, padR;
  static ConvGeom read() {
    ConvGeom g;
#define FCNN_READ(f) g.f = PN(arg::geometry + slots::convGeometry::f);
    FCNN_CONV_GEOMETRY_FIELDS(FCNN_READ)
#undef FCNN_READ
    return g;
  }
};

// One image's gradients, added to w[9][OC] and b[OC] (floats), for channels [c0, c0 + NB * kLanes):
// NB vector blocks of channels at once, so that each pixel of y is read whole (C floats in a row)
// rather than a block at a time. xp: the image with `pad` zero rows and columns around it (row
// stride xw); y, dy: the image's ReLU output [OH][OW][OC] and pooled gradient [OH/2][OW/2][OC].
template <bool RELU, int NB>
void image_block(const float* xp, int64_t xw, const float* y, const float* dy, const ConvGeom& g, int64_t c0, float* w,
                 float* b) {
  const int64_t OC = g.OC, row = g.OW * OC, PH = g.OH / 2, PW = g.OW / 2;
  vf acc[9][NB], bias[NB];
  for (int j = 0; j < NB; j++) {
    for (int t = 0; t < 9; t++) acc[t][j] = load(w + t * OC + c0 + j * kLanes);
    bias[j] = load(b + c0 + j * kLanes);
  }
  for (int64_t ph = 0; ph < PH; ph++) {
    for (int64_t pw = 0; pw < PW; pw++) {
      // The 4x4 patch of the image under the window's four 3x3 convolutions.
      const float* x0 = xp + (2 * ph) * xw + 2 * pw;
      float patch[16];
      for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) patch[r * 4 + c] = x0[r * xw + c];
      const float* yw = y + (2 * ph * g.OW + 2 * pw) * OC + c0;
      const float* dyw = dy + (ph * PW + pw) * OC + c0;
      // The next row of windows, two rows of y down: the loop's arithmetic leaves the memory idle
      // otherwise (in cache, this kernel runs twice as fast).
      for (int64_t r = 2; r < 4; r++)
        for (int64_t q = 0; q < 2 * OC; q += 16) __builtin_prefetch(yw + r * row + q, 0, 0);
      // dyAct at the window's four pixels, per channel block.
      vf o[4][NB];
      for (int j = 0; j < NB; j++) {
        const float* yp = yw + j * kLanes;
        const vf v[4] = {load(yp), load(yp + OC), load(yp + row), load(yp + row + OC)};
        // The window's first maximum (NaN never wins), as MaxPoolGrad picks it.
        vf best = vf{} - std::numeric_limits<float>::infinity();
        vi at = vi{} - 1;
        for (int k = 0; k < 4; k++) {
          const vi gt = v[k] > best;
          best = gt ? v[k] : best;
          at = gt ? (vi{} + k) : at;
        }
        const vf d = load(dyw + j * kLanes);
        for (int k = 0; k < 4; k++) {
          vf ok = at == k ? d : vf{};
          if (RELU) ok = v[k] > 0.f ? ok : vf{};
          o[k][j] = v[k] != v[k] ? v[k] : ok;
          bias[j] += o[k][j];
        }
      }
      // Each image value broadcast once for every channel block.
      for (int k = 0; k < 4; k++) {
        const int dr = k >> 1, dc = k & 1;
        for (int kh = 0; kh < 3; kh++)
          for (int kw = 0; kw < 3; kw++) {
            const float xv = patch[(dr + kh) * 4 + dc + kw];
            for (int j = 0; j < NB; j++) acc[kh * 3 + kw][j] += o[k][j] * xv;
          }
      }
    }
  }
  for (int j = 0; j < NB; j++) {
    for (int t = 0; t < 9; t++) store(w + t * OC + c0 + j * kLanes, acc[t][j]);
    store(b + c0 + j * kLanes, bias[j]);
  }
}

// The channel blocks done at once: 32 channels (measured best with AVX-512 and AVX2, the sums
// spilling to the stack or not), each pixel of y then read whole.
constexpr int kBlocksAtOnce = kLanes >= 32 ? 1 : 32 / kLanes;

template <bool RELU>
void image(const float* xp, int64_t xw, const float* y, const float* dy, const ConvGeom& g, float* w, float* b) {
  int64_t c0 = 0;
  for (; c0 + kBlocksAtOnce * kLanes <= g.OC; c0 += kBlocksAtOnce * kLanes) image_block<RELU, kBlocksAtOnce>(xp, xw, y, dy, g, c0, w, b);
  for (; c0 < g.OC; c0 += kLanes) image_block<RELU, 1>(xp, xw, y, dy, g, c0, w, b);
}

void conv_pool_filter_grad() {
  const ConvGeom g = ConvGeom::read();
  const PoolGeometry pg = PoolGeometry::read(arg::poolGeometry);
  const bool relu = PI(arg::relu) != 0;
  // What this kernel computes; the TypeScript side checks the same before calling it.
  if (g.C != 1 || g.KH != 3 || g.KW != 3 || g.SH != 1 || g.SW != 1 || g.DH != 1 || g.DW != 1 || g.OC % kLanes != 0)
    throw std::runtime_error("convPoolFilterGrad: needs a 3x3, stride 1 convolution of one channel to a multiple of " +
                             std::to_string(kLanes) + " channels");
  if (pg.N != g.N || pg.H != g.OH || pg.W != g.OW || pg.C != g.OC || pg.KH != 2 || pg.KW != 2 || pg.SH != 2 ||
      pg.SW != 2 || pg.padT != 0 || pg.padL != 0 || g.OH % 2 != 0 || g.OW % 2 != 0 || pg.OH != g.OH / 2 || pg.OW != g.OW / 2)
    throw std::runtime_error("convPoolFilterGrad: needs 2x2 pooling windows, stride 2, tiling the convolution's output");
  const int64_t OC = g.OC, in_image = size_product({g.H, g.W}), out_image = size_product({g.OH, g.OW, OC});
  const float* x = heap_f32(P(arg::x), size_product({g.N, in_image}));
  const float* y = heap_f32(P(arg::y), size_product({g.N, out_image}));
  const float* dy = heap_f32(P(arg::dyPool), size_product({g.N, out_image / 4}));
  float* dw = heap_f32(P(arg::dw), 9 * OC);
  float* bias = heap_f32_opt(P(arg::bias), OC);
  // Each image's sums, then the batch's in image order: the same whatever the thread count.
  std::vector<float> part(static_cast<size_t>(g.N * 10 * OC));
  // The image with its padding (and enough zero rows and columns for the windows' 4x4 patches).
  const int64_t xw = g.OW + 2, xh = g.OH + 2;
#pragma omp parallel if (g.N * out_image > 16384)
  {
    std::vector<float> padded(static_cast<size_t>(xw * xh));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; n++) {
      pad_image(g, x + n * in_image, xw, xh, padded);
      float* w = part.data() + n * 10 * OC;
      float* b = w + 9 * OC;
      std::fill(w, w + 10 * OC, 0.f);
      if (relu) image<true>(padded.data(), xw, y + n * out_image, dy + n * out_image / 4, g, w, b);
      else image<false>(padded.data(), xw, y + n * out_image, dy + n * out_image / 4, g, w, b);
    }
  }
  for (int64_t i = 0; i < 10 * OC; i++) {
    double s = 0;
    for (int64_t n = 0; n < g.N; n++) s += part[n * 10 * OC + i];
    if (i < 9 * OC) dw[i] = static_cast<float>(s);
    else if (bias) bias[i - 9 * OC] = static_cast<float>(s);
  }
}

// Output pixels computed at once along a row: their sums stay in registers while the nine weight
// vectors of each channel block are reused across them.
constexpr int kPixels = 4;

// One row of outputs, for channels [c0, c0 + NB * kLanes). xr: the padded image's row under the
// output row (row stride xw); w: the filter [9][OC]; y: the output row. The weights are loaded
// once per row, and kPixels outputs are summed at once, each with every weight vector.
template <int NB, bool RELU, bool SCALE_SHIFT>
void first_conv_row(const float* xr, int64_t xw, const float* w, const float* b, const float* scale_shift, int64_t OC,
                    int64_t OW, int64_t c0, float* y) {
  vf wt[9][NB], bias[NB], scale[NB], shift[NB];
  for (int j = 0; j < NB; j++) {
    for (int t = 0; t < 9; t++) wt[t][j] = load(w + t * OC + c0 + j * kLanes);
    bias[j] = b ? load(b + c0 + j * kLanes) : vf{};
    if (SCALE_SHIFT) {
      scale[j] = load(scale_shift + c0 + j * kLanes);
      shift[j] = load(scale_shift + OC + c0 + j * kLanes);
    }
  }
  auto finish = [&](vf v, int j) {
    if (RELU) v = v < 0.f ? vf{} : v;
    if (SCALE_SHIFT) v = v * scale[j] + shift[j];
    return v;
  };
  const float* x1 = xr + xw;
  const float* x2 = xr + 2 * xw;
  int64_t ow = 0;
  for (; ow + kPixels <= OW; ow += kPixels) {
    vf acc[kPixels][NB];
    for (int p = 0; p < kPixels; p++)
      for (int j = 0; j < NB; j++) acc[p][j] = bias[j];
    for (int kw = 0; kw < 3; kw++)
      for (int p = 0; p < kPixels; p++) {
        const float a0 = xr[ow + p + kw], a1 = x1[ow + p + kw], a2 = x2[ow + p + kw];
        for (int j = 0; j < NB; j++) acc[p][j] += a0 * wt[kw][j];
        for (int j = 0; j < NB; j++) acc[p][j] += a1 * wt[3 + kw][j];
        for (int j = 0; j < NB; j++) acc[p][j] += a2 * wt[6 + kw][j];
      }
    for (int p = 0; p < kPixels; p++)
      for (int j = 0; j < NB; j++) store(y + (ow + p) * OC + c0 + j * kLanes, finish(acc[p][j], j));
  }
  for (; ow < OW; ow++) {
    for (int j = 0; j < NB; j++) {
      vf acc = bias[j];
      for (int kw = 0; kw < 3; kw++) {
        acc += xr[ow + kw] * wt[kw][j];
        acc += x1[ow + kw] * wt[3 + kw][j];
        acc += x2[ow + kw] * wt[6 + kw][j];
      }
      store(y + ow * OC + c0 + j * kLanes, finish(acc, j));
    }
  }
}

// Channel blocks per pass of the forward convolution: its nine weight vectors per block and the
// kPixels sums per block must fit the registers (32 with AVX-512, 16 with AVX2).
constexpr int kForwardBlocks = kLanes == 16 ? 2 : 1;

template <bool RELU, bool SCALE_SHIFT>
void first_conv_rows(const float* xr, int64_t xw, const float* w, const float* b, const float* scale_shift, int64_t OC,
                     int64_t OW, float* y) {
  int64_t c0 = 0;
  for (; c0 + kForwardBlocks * kLanes <= OC; c0 += kForwardBlocks * kLanes)
    first_conv_row<kForwardBlocks, RELU, SCALE_SHIFT>(xr, xw, w, b, scale_shift, OC, OW, c0, y);
  for (; c0 < OC; c0 += kLanes) first_conv_row<1, RELU, SCALE_SHIFT>(xr, xw, w, b, scale_shift, OC, OW, c0, y);
}

}  // namespace

bool first_conv_fits(const ConvShape& g, int act) {
  return g.C == 1 && g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 && g.OC % kLanes == 0 &&
         g.OH == g.H + g.padT + g.padB - 2 && g.OW == g.W + g.padL + g.padR - 2 &&
         (act == codes::activation::linear || act == codes::activation::relu);
}

void first_conv_forward(const ConvShape& g, const float* x, const float* w, const float* b, int act,
                        const float* scale_shift, float* y, int64_t n0, int64_t n1) {
  if (!first_conv_fits(g, act)) throw std::runtime_error("first_conv_forward: not a 3x3, stride 1 convolution of one channel");
  const int64_t xw = g.OW + 2, xh = g.OH + 2, in_image = g.H * g.W, out_row = g.OW * g.OC;
  const bool relu = act == codes::activation::relu;
  const int64_t rows = (n1 - n0) * g.OH;
#pragma omp parallel if (rows * out_row > 16384)
  {
    // The image with its padding; each thread pads the images whose rows it computes.
    std::vector<float> padded(static_cast<size_t>(xw * xh));
    int64_t padded_n = -1;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const int64_t n = n0 + r / g.OH, oh = r % g.OH;
      if (n != padded_n) {
        pad_image(g, x + n * in_image, xw, xh, padded);
        padded_n = n;
      }
      float* yr = y + (n * g.OH + oh) * out_row;
      const float* xr = padded.data() + oh * xw;
      if (scale_shift) {
        if (relu) first_conv_rows<true, true>(xr, xw, w, b, scale_shift, g.OC, g.OW, yr);
        else first_conv_rows<false, true>(xr, xw, w, b, scale_shift, g.OC, g.OW, yr);
      } else {
        if (relu) first_conv_rows<true, false>(xr, xw, w, b, scale_shift, g.OC, g.OW, yr);
        else first_conv_rows<false, false>(xr, xw, w, b, scale_shift, g.OC, g.OW, yr);
      }
    }
  }
}

void init_first_layer(Napi::Env env, Napi::Object exports) {
  exports.Set("convPoolFilterGrad", Napi::Function::New(env, kernel<conv_pool_filter_grad>));
}

}  // namespace fcnn
