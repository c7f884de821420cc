// Max pooling forward and backward on NHWC tensors.
//
// Hand-written rather than oneDNN's: oneDNN's max-pool backward needs a workspace saved by its own
// forward pass, but TF.js's MaxPoolGrad kernel only gets (dy, x, y). Recomputing the arg-max here
// costs one read of x, which the backward pass needs anyway. Ties go to the first maximum in
// window order and NaN never wins, exactly as in TF.js's reference (cpu) backend.
//
// Parameter block (POOL_* in src/backend/native/params.ts):
//   forward: 0 x  1 y          backward: 0 dy  1 x  2 dx
//   4..17 geometry: N H W C OH OW KH KW SH SW DH DW padT padL
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common.h"

namespace fcnn {
namespace {

// GCC vector extensions: sixteen floats (one AVX-512 register; split on narrower machines).
constexpr int kLanes = 16;
typedef float vf __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(kLanes * sizeof(int32_t))));
inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }

struct PoolGeometry {
  int64_t N, H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, padT, padL;
  static PoolGeometry read() {
    PoolGeometry g;
    int64_t* f = &g.N;
    for (int i = 0; i < 14; i++) f[i] = PI(4 + i);
    return g;
  }
};

void max_pool() {
  const PoolGeometry g = PoolGeometry::read();
  const float* x = heap_f32(P(0), g.N * g.H * g.W * g.C);
  float* y = heap_f32(P(1), g.N * g.OH * g.OW * g.C);
  const int64_t rows = g.N * g.OH, C = g.C;
#pragma omp parallel for schedule(static) if (rows * g.OW * C > 16384)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t n = r / g.OH, oh = r % g.OH;
    for (int64_t ow = 0; ow < g.OW; ow++) {
      float* yp = y + (r * g.OW + ow) * C;
      for (int64_t c = 0; c < C; c++) yp[c] = -std::numeric_limits<float>::infinity();
      for (int64_t kh = 0; kh < g.KH; kh++) {
        const int64_t ih = oh * g.SH - g.padT + kh * g.DH;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t kw = 0; kw < g.KW; kw++) {
          const int64_t iw = ow * g.SW - g.padL + kw * g.DW;
          if (iw < 0 || iw >= g.W) continue;
          const float* xp = x + ((n * g.H + ih) * g.W + iw) * C;
          for (int64_t c = 0; c < C; c++) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];
        }
      }
    }
  }
}

// Windows that do not overlap (stride >= window, no dilation: every pooling layer of the models):
// each input pixel belongs to at most one window, so dx is written once, without a separate
// zeroing pass and without scattered additions.
void max_pool_grad_disjoint(const PoolGeometry& g, const float* dy, const float* x, float* dx) {
  const int64_t C = g.C, image = g.H * g.W * C, out_image = g.OH * g.OW * C;
  auto row_window = [&](int64_t ih, int64_t& oh) {
    const int64_t p = ih + g.padT;
    oh = p / g.SH;
    return p % g.SH < g.KH && oh < g.OH;
  };
  auto col_window = [&](int64_t iw, int64_t& ow) {
    const int64_t p = iw + g.padL;
    ow = p / g.SW;
    return p % g.SW < g.KW && ow < g.OW;
  };
#pragma omp parallel for schedule(static) if (g.N * image > 16384)
    for (int64_t n = 0; n < g.N; n++) {
      const float* xn = x + n * image;
      float* dxn = dx + n * image;
      const float* dyn = dy + n * out_image;
      // Pixels outside every window get no gradient.
      for (int64_t ih = 0; ih < g.H; ih++) {
        int64_t oh;
        if (!row_window(ih, oh)) {
          std::memset(dxn + ih * g.W * C, 0, g.W * C * sizeof(float));
          continue;
        }
        for (int64_t iw = 0; iw < g.W; iw++) {
          int64_t ow;
          if (!col_window(iw, ow)) std::memset(dxn + (ih * g.W + iw) * C, 0, C * sizeof(float));
        }
      }
      for (int64_t oh = 0; oh < g.OH; oh++) {
        const int64_t h0 = std::max<int64_t>(0, oh * g.SH - g.padT), h1 = std::min<int64_t>(g.H, oh * g.SH - g.padT + g.KH);
        for (int64_t ow = 0; ow < g.OW; ow++) {
          const int64_t w0 = std::max<int64_t>(0, ow * g.SW - g.padL), w1 = std::min<int64_t>(g.W, ow * g.SW - g.padL + g.KW);
          const float* dyp = dyn + (oh * g.OW + ow) * C;
          int64_t c0 = 0;
          // Sixteen channels at a time in vector registers, then the remainder.
          for (; c0 + kLanes <= C; c0 += kLanes) {
            vf best = vf{} - std::numeric_limits<float>::infinity();
            vi arg = vi{} - 1;
            int32_t k = 0;
            for (int64_t ih = h0; ih < h1; ih++)
              for (int64_t iw = w0; iw < w1; iw++, k++) {
                const vf v = load(xn + (ih * g.W + iw) * C + c0);
                const vi gt = v > best;
                best = gt ? v : best;
                arg = gt ? (vi{} + k) : arg;
              }
            const vf d = load(dyp + c0);
            k = 0;
            for (int64_t ih = h0; ih < h1; ih++)
              for (int64_t iw = w0; iw < w1; iw++, k++)
                store(dxn + (ih * g.W + iw) * C + c0, arg == k ? d : vf{});
          }
          for (int64_t c = c0; c < C; c++) {
            float best = -std::numeric_limits<float>::infinity();
            int32_t arg = -1, k = 0;
            for (int64_t ih = h0; ih < h1; ih++)
              for (int64_t iw = w0; iw < w1; iw++, k++) {
                const float v = xn[(ih * g.W + iw) * C + c];
                if (v > best) {
                  best = v;
                  arg = k;
                }
              }
            k = 0;
            for (int64_t ih = h0; ih < h1; ih++)
              for (int64_t iw = w0; iw < w1; iw++, k++) dxn[(ih * g.W + iw) * C + c] = arg == k ? dyp[c] : 0.f;
          }
        }
      }
    }
}

void max_pool_grad() {
  const PoolGeometry g = PoolGeometry::read();
  if (g.SH >= g.KH && g.SW >= g.KW && g.DH == 1 && g.DW == 1) {
    const int64_t image = g.H * g.W * g.C;
    max_pool_grad_disjoint(g, heap_f32(P(0), g.N * g.OH * g.OW * g.C), heap_f32(P(1), g.N * image),
                           heap_f32(P(2), g.N * image));
    return;
  }
  const int64_t C = g.C, image = g.H * g.W * C, out_image = g.OH * g.OW * C;
  const float* dy = heap_f32(P(0), g.N * out_image);
  const float* x = heap_f32(P(1), g.N * image);
  float* dx = heap_f32(P(2), g.N * image);
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

}  // namespace

void init_pool(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool", Napi::Function::New(env, kernel<max_pool>));
  exports.Set("maxPoolGrad", Napi::Function::New(env, kernel<max_pool_grad>));
}

}  // namespace fcnn
