// Max pooling forward and backward on NHWC tensors.
//
// Hand-written rather than oneDNN's: oneDNN's max-pool backward needs a workspace saved by its own
// forward pass, but TF.js's MaxPoolGrad kernel only gets (dy, x, y). Recomputing the arg-max here
// costs one read of x, which the backward pass needs anyway. Ties go to the first maximum in
// window order and NaN never wins, exactly as in TF.js's reference (cpu) backend.
//
// Arguments: slots::maxPool, slots::maxPoolGrad and slots::poolReluGradBias (param-layout.json;
// filled by src/backend/native/kernels/pool.ts).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common.h"
#include "pool.h"

namespace fcnn {

namespace {

// One pooling window [h0, h1) x [w0, w1) of an NHWC image whose rows are W pixels of C channels.
struct Window {
  const float* img;
  int64_t W, C, h0, h1, w0, w1;
  const float* at(int64_t ih, int64_t iw) const { return img + (ih * W + iw) * C; }
};

// For channels c0 .. c0 + kLanes - 1: the window-order index of each lane's first maximum, -1 if none
// (NaN never wins), as TF.js's MaxPoolGrad picks it.
inline vi window_argmax(const Window& w, int64_t c0) {
  vf best = vf{} - std::numeric_limits<float>::infinity();
  vi arg = vi{} - 1;
  int32_t k = 0;
  for (int64_t ih = w.h0; ih < w.h1; ih++)
    for (int64_t iw = w.w0; iw < w.w1; iw++, k++) {
      const vf v = load(w.at(ih, iw) + c0);
      const vi gt = v > best;
      best = gt ? v : best;
      arg = gt ? (vi{} + k) : arg;
    }
  return arg;
}

// The same for one channel.
inline int32_t window_argmax_one(const Window& w, int64_t c) {
  float best = -std::numeric_limits<float>::infinity();
  int32_t arg = -1, k = 0;
  for (int64_t ih = w.h0; ih < w.h1; ih++)
    for (int64_t iw = w.w0; iw < w.w1; iw++, k++) {
      const float v = w.at(ih, iw)[c];
      if (v > best) {
        best = v;
        arg = k;
      }
    }
  return arg;
}

// For kLanes channels of one full 2x2 window whose top-left pixel is at p (rows `row` floats
// apart, pixels C apart): the window-order index of each lane's first maximum, as window_argmax
// finds it, with the four pixels loaded once (the common case: every pooling of the CNNs).
struct Window2x2 {
  vf v[4];
  vi arg;
  Window2x2(const float* p, int64_t row, int64_t C) : v{load(p), load(p + C), load(p + row), load(p + row + C)} {
    vf best = vf{} - std::numeric_limits<float>::infinity();
    arg = vi{} - 1;
    for (int k = 0; k < 4; k++) {
      const vi gt = v[k] > best;
      best = gt ? v[k] : best;
      arg = gt ? (vi{} + k) : arg;
    }
  }
  float* at(float* p, int k, int64_t row, int64_t C) const { return p + (k >> 1) * row + (k & 1) * C; }
};

// Whether each input row (column) lies in some window, when windows do not overlap; and whether any does not.
struct WindowCover {
  std::vector<char> row, col;
  bool all = true;
  explicit WindowCover(const PoolGeometry& g) : row(g.H), col(g.W) {
    for (int64_t ih = 0; ih < g.H; ih++) all &= (row[ih] = g.row_in_window(ih));
    for (int64_t iw = 0; iw < g.W; iw++) all &= (col[iw] = g.col_in_window(iw));
  }
  // Calls f(pixel index) for each pixel of an image outside every window.
  template <typename F>
  void for_each_outside(const PoolGeometry& g, F f) const {
    if (all) return;
    for (int64_t ih = 0; ih < g.H; ih++)
      for (int64_t iw = 0; iw < g.W; iw++)
        if (!row[ih] || !col[iw]) f(ih * g.W + iw);
  }
};

// Prefetches the pixels under the next row of windows (the same columns, `rows` input rows down):
// the pooling loops compute between loads and leave the memory idle otherwise.
inline void prefetch_rows_below(const float* p, int64_t rows, int64_t row_floats, int64_t pixels, int64_t C) {
  for (int64_t r = 0; r < 2; r++)
    for (int64_t q = 0; q < pixels * C; q += 16) __builtin_prefetch(p + (rows + r) * row_floats + q, 0, 0);
}

// A full 2x2 window at output (oh, ow): inside the image, no dilation.
inline bool full_2x2(const PoolGeometry& g, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
  return g.KH == 2 && g.KW == 2 && g.DH == 1 && g.DW == 1 && h1 - h0 == 2 && w1 - w0 == 2;
}

}  // namespace

void max_pool_images(const PoolGeometry& g, const float* x, float* y) {
  const int64_t rows = g.N * g.OH, C = g.C;
#pragma omp parallel for schedule(static) if (rows * g.OW * C > 16384)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t n = r / g.OH, oh = r % g.OH;
    const bool rows_2x2 = g.KH == 2 && g.KW == 2 && g.DH == 1 && g.DW == 1 && oh * g.SH - g.padT >= 0 && oh * g.SH - g.padT + 2 <= g.H;
    for (int64_t ow = 0; ow < g.OW; ow++) {
      float* yp = y + (r * g.OW + ow) * C;
      int64_t c0 = 0;
      const int64_t iw0 = ow * g.SW - g.padL;
      if (rows_2x2 && iw0 >= 0 && iw0 + 2 <= g.W) {
        // A full 2x2 window: the same maxima, in the same order, without the bounds checks.
        const float* p = x + ((n * g.H + oh * g.SH - g.padT) * g.W + iw0) * C;
        const int64_t row = g.W * C;
        prefetch_rows_below(p, g.SH, row, 2, C);
        for (; c0 + kLanes <= C; c0 += kLanes) {
          vf best = vf{} - std::numeric_limits<float>::infinity();
          for (const float* q : {p, p + C, p + row, p + row + C}) {
            const vf v = load(q + c0);
            best = v > best ? v : best;
          }
          store(yp + c0, best);
        }
      }
      // kLanes channels at a time in a vector register, then the remainder.
      for (; c0 + kLanes <= C; c0 += kLanes) {
        vf best = vf{} - std::numeric_limits<float>::infinity();
        for (int64_t kh = 0; kh < g.KH; kh++) {
          const int64_t ih = oh * g.SH - g.padT + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kw = 0; kw < g.KW; kw++) {
            const int64_t iw = ow * g.SW - g.padL + kw * g.DW;
            if (iw < 0 || iw >= g.W) continue;
            const vf v = load(x + ((n * g.H + ih) * g.W + iw) * C + c0);
            best = v > best ? v : best;
          }
        }
        store(yp + c0, best);
      }
      for (int64_t c = c0; c < C; c++) yp[c] = -std::numeric_limits<float>::infinity();
      if (c0 == C) continue;
      for (int64_t kh = 0; kh < g.KH; kh++) {
        const int64_t ih = oh * g.SH - g.padT + kh * g.DH;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t kw = 0; kw < g.KW; kw++) {
          const int64_t iw = ow * g.SW - g.padL + kw * g.DW;
          if (iw < 0 || iw >= g.W) continue;
          const float* xp = x + ((n * g.H + ih) * g.W + iw) * C;
          for (int64_t c = c0; c < C; c++) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];
        }
      }
    }
  }
}

namespace {

void max_pool() {
  namespace arg = slots::maxPool;
  const PoolGeometry g = PoolGeometry::read(arg::geometry);
  max_pool_images(g, heap_f32(P(arg::x), size_product({g.N, g.H, g.W, g.C})), heap_f32(P(arg::y), size_product({g.N, g.OH, g.OW, g.C})));
}

// Windows that do not overlap (stride >= window, no dilation: every pooling layer of the models):
// each input pixel belongs to at most one window, so dx is written once, without a separate
// zeroing pass and without scattered additions.
void max_pool_grad_disjoint(const PoolGeometry& g, const float* dy, const float* x, float* dx) {
  const int64_t C = g.C, image = g.H * g.W * C, out_image = g.OH * g.OW * C, row = g.W * C;
  const WindowCover cover(g);
#pragma omp parallel for schedule(static) if (g.N * image > 16384)
    for (int64_t n = 0; n < g.N; n++) {
      const float* xn = x + n * image;
      float* dxn = dx + n * image;
      const float* dyn = dy + n * out_image;
      // Pixels outside every window get no gradient.
      cover.for_each_outside(g, [&](int64_t pixel) { std::memset(dxn + pixel * C, 0, C * sizeof(float)); });
      for (int64_t oh = 0; oh < g.OH; oh++) {
        const int64_t h0 = g.row_start(oh), h1 = g.row_end(oh);
        for (int64_t ow = 0; ow < g.OW; ow++) {
          const int64_t w0 = g.col_start(ow), w1 = g.col_end(ow);
          const float* dyp = dyn + (oh * g.OW + ow) * C;
          int64_t c0 = 0;
          if (full_2x2(g, h0, h1, w0, w1)) {
            const int64_t at = (h0 * g.W + w0) * C;
            prefetch_rows_below(xn + at, g.SH, row, 2, C);
            for (; c0 + kLanes <= C; c0 += kLanes) {
              const Window2x2 w(xn + at + c0, row, C);
              const vf d = load(dyp + c0);
              for (int k = 0; k < 4; k++) store(w.at(dxn + at + c0, k, row, C), w.arg == k ? d : vf{});
            }
          }
          // kLanes channels at a time in vector registers, then the remainder.
          for (; c0 + kLanes <= C; c0 += kLanes) {
            const vi arg = window_argmax(Window{xn, g.W, C, h0, h1, w0, w1}, c0);
            const vf d = load(dyp + c0);
            int32_t k = 0;
            for (int64_t ih = h0; ih < h1; ih++)
              for (int64_t iw = w0; iw < w1; iw++, k++)
                store(dxn + (ih * g.W + iw) * C + c0, arg == k ? d : vf{});
          }
          for (int64_t c = c0; c < C; c++) {
            const int32_t arg = window_argmax_one(Window{xn, g.W, C, h0, h1, w0, w1}, c);
            int32_t k = 0;
            for (int64_t ih = h0; ih < h1; ih++)
              for (int64_t iw = w0; iw < w1; iw++, k++) dxn[(ih * g.W + iw) * C + c] = arg == k ? dyp[c] : 0.f;
          }
        }
      }
    }
}

void max_pool_grad() {
  namespace arg = slots::maxPoolGrad;
  const PoolGeometry g = PoolGeometry::read(arg::geometry);
  if (g.SH >= g.KH && g.SW >= g.KW && g.DH == 1 && g.DW == 1) {
    const int64_t image = size_product({g.H, g.W, g.C});
    max_pool_grad_disjoint(g, heap_f32(P(arg::dy), size_product({g.N, g.OH, g.OW, g.C})), heap_f32(P(arg::x), size_product({g.N, image})),
                           heap_f32(P(arg::dx), size_product({g.N, image})));
    return;
  }
  const int64_t C = g.C, image = size_product({g.H, g.W, C}), out_image = size_product({g.OH, g.OW, C});
  const float* dy = heap_f32(P(arg::dy), size_product({g.N, out_image}));
  const float* x = heap_f32(P(arg::x), size_product({g.N, image}));
  float* dx = heap_f32(P(arg::dx), size_product({g.N, image}));
#pragma omp parallel if (g.N * image > 16384)
  {
    std::vector<float> best(C);
    std::vector<int64_t> where(C);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; n++) {
      float* dxn = dx + n * image;
      std::memset(dxn, 0, image * sizeof(float));
      const float* xn = x + n * image;
      for (int64_t oh = 0; oh < g.OH; oh++) {
        for (int64_t ow = 0; ow < g.OW; ow++) {
          for (int64_t c = 0; c < C; c++) {
            best[c] = -std::numeric_limits<float>::infinity();
            where[c] = -1;
          }
          for (int64_t kh = 0; kh < g.KH; kh++) {
            const int64_t ih = oh * g.SH - g.padT + kh * g.DH;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t kw = 0; kw < g.KW; kw++) {
              const int64_t iw = ow * g.SW - g.padL + kw * g.DW;
              if (iw < 0 || iw >= g.W) continue;
              const int64_t base = (ih * g.W + iw) * C;
              const float* xp = xn + base;
              for (int64_t c = 0; c < C; c++) {
                if (xp[c] > best[c]) {
                  best[c] = xp[c];
                  where[c] = base + c;
                }
              }
            }
          }
          const float* dyp = dy + n * out_image + (oh * g.OW + ow) * C;
          for (int64_t c = 0; c < C; c++)
            if (where[c] >= 0) dxn[where[c]] += dyp[c];
        }
      }
    }
  }
}

// The backward pass of "ReLU layer, then max pooling" (non-overlapping windows) in one pass:
// dyAct = MaxPoolGrad(dyPool, y) * step(y), and its per-channel sum (the bias gradient; summed
// always, stored when its slot is not -1), without materialising MaxPoolGrad's output. y is the
// ReLU output (the pooling input); NaN in y gives NaN, as TF.js's dy * step(y) does.
void pool_relu_grad_bias() {
  namespace arg = slots::poolReluGradBias;
  const PoolGeometry g = PoolGeometry::read(arg::geometry);
  const int64_t C = g.C, image = size_product({g.H, g.W, C}), out_image = size_product({g.OH, g.OW, C});
  const float* dy = heap_f32(P(arg::dyPool), size_product({g.N, out_image}));
  const float* y = heap_f32(P(arg::y), size_product({g.N, image}));
  float* dx = heap_f32(P(arg::dyAct), size_product({g.N, image}));
  float* bias = heap_f32_opt(P(arg::bias), C);
  const bool relu = PI(arg::relu) != 0;
  if (!(g.SH >= g.KH && g.SW >= g.KW && g.DH == 1 && g.DW == 1)) throw std::runtime_error("pool_relu_grad_bias: overlapping windows");
  const int threads = g.N * image > 16384 ? num_threads() : 1;
  std::vector<double> part(static_cast<size_t>(threads * C), 0.0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t row_floats = g.W * C;
  const WindowCover cover(g);
  auto masked = [&](float v, float d) { return v != v ? v : ((!relu || v > 0.f) ? d : 0.f); };
  // The gradient of one lane block of an output pixel's window: MaxPoolGrad's value, times
  // step(y) (relu), NaN where y is NaN.
  auto block = [&](vf v, vi arg, int k, vf d) {
    vf o = arg == k ? d : vf{};
    if (relu) o = v > 0.f ? o : vf{};
    return v != v ? v : o;
  };
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int t = omp_get_thread_num();
    double* acc = part.data() + t * C;
    std::vector<float> row(C);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; n++) {
      const float* yn = y + n * image;
      float* dxn = dx + n * image;
      const float* dyn = dy + n * out_image;
      // Pixels outside every window: no gradient (NaN where y is NaN).
      cover.for_each_outside(g, [&](int64_t pixel) {
        const float* yp = yn + pixel * C;
        float* dp = dxn + pixel * C;
        for (int64_t c = 0; c < C; c++) dp[c] = yp[c] != yp[c] ? nan : 0.f;
      });
      for (int64_t oh = 0; oh < g.OH; oh++) {
        const int64_t h0 = g.row_start(oh), h1 = g.row_end(oh);
        std::fill(row.begin(), row.end(), 0.f);
        for (int64_t ow = 0; ow < g.OW; ow++) {
          const int64_t w0 = g.col_start(ow), w1 = g.col_end(ow);
          const float* dyp = dyn + (oh * g.OW + ow) * C;
          int64_t c0 = 0;
          if (full_2x2(g, h0, h1, w0, w1)) {
            // The four pixels loaded once, the sum added in window order as below.
            const int64_t at = (h0 * g.W + w0) * C;
            prefetch_rows_below(yn + at, g.SH, row_floats, 2, C);
            for (; c0 + kLanes <= C; c0 += kLanes) {
              const Window2x2 w(yn + at + c0, row_floats, C);
              const vf d = load(dyp + c0);
              vf sum = load(row.data() + c0);
              for (int k = 0; k < 4; k++) {
                const vf o = block(w.v[k], w.arg, k, d);
                store(w.at(dxn + at + c0, k, row_floats, C), o);
                sum += o;
              }
              store(row.data() + c0, sum);
            }
          }
          for (; c0 + kLanes <= C; c0 += kLanes) {
            const vi arg = window_argmax(Window{yn, g.W, C, h0, h1, w0, w1}, c0);
            const vf d = load(dyp + c0);
            vf sum = load(row.data() + c0);
            int32_t k = 0;
            for (int64_t ih = h0; ih < h1; ih++)
              for (int64_t iw = w0; iw < w1; iw++, k++) {
                const int64_t at = (ih * g.W + iw) * C + c0;
                const vf o = block(load(yn + at), arg, k, d);
                store(dxn + at, o);
                sum += o;
              }
            store(row.data() + c0, sum);
          }
          for (int64_t c = c0; c < C; c++) {
            const int32_t arg = window_argmax_one(Window{yn, g.W, C, h0, h1, w0, w1}, c);
            int32_t k = 0;
            for (int64_t ih = h0; ih < h1; ih++)
              for (int64_t iw = w0; iw < w1; iw++, k++) {
                const int64_t at = (ih * g.W + iw) * C + c;
                const float o = masked(yn[at], arg == k ? dyp[c] : 0.f);
                dxn[at] = o;
                row[c] += o;
              }
          }
        }
        for (int64_t c = 0; c < C; c++) acc[c] += row[c];
      }
    }
  }
  if (bias) {
    for (int64_t c = 0; c < C; c++) {
      double s = 0;
      for (int t = 0; t < threads; t++) s += part[t * C + c];
      bias[c] = static_cast<float>(s);
    }
  }
}

}  // namespace

void init_pool(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool", Napi::Function::New(env, kernel<max_pool>));
  exports.Set("maxPoolGrad", Napi::Function::New(env, kernel<max_pool_grad>));
  exports.Set("poolReluGradBias", Napi::Function::New(env, kernel<pool_relu_grad_bias>));
}

}  // namespace fcnn
