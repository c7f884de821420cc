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
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common.h"

namespace fcnn {
namespace {

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

void max_pool_grad() {
  const PoolGeometry g = PoolGeometry::read();
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
