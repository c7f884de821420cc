// Max pooling shared between pool.cc and the fused convolution + pooling in conv.cc.
#pragma once

#include <cstdint>
#include <cstring>

#include "common.h"

namespace fcnn {

// GCC vector extensions, as wide as one register of the instruction set the addon is built for.
// Wider than that, GCC lowers the vector selects and compares element by element: on an AVX2 build
// 16-float vectors made the pooling gradient about seven times slower than 8-float ones.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
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
  // Reads the struct poolGeometry whose slot is `at` (slots::maxPool::geometry, ...).
  static PoolGeometry read(int at) {
    PoolGeometry g;
#define FCNN_READ(f) g.f = PN(at + slots::poolGeometry::f);
    FCNN_POOL_GEOMETRY_FIELDS(FCNN_READ)
#undef FCNN_READ
    if (g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1)
      throw std::runtime_error("pooling: window, stride and dilation must be at least 1");
    return g;
  }
  // The input rows [row_start, row_end) and columns [col_start, col_end) of output (oh, ow)'s
  // window, clipped to the image (no dilation).
  int64_t row_start(int64_t oh) const { return oh * SH - padT < 0 ? 0 : oh * SH - padT; }
  int64_t row_end(int64_t oh) const { return oh * SH - padT + KH > H ? H : oh * SH - padT + KH; }
  int64_t col_start(int64_t ow) const { return ow * SW - padL < 0 ? 0 : ow * SW - padL; }
  int64_t col_end(int64_t ow) const { return ow * SW - padL + KW > W ? W : ow * SW - padL + KW; }
  // Whether input row ih / column iw lies in some window, when windows do not overlap.
  bool row_in_window(int64_t ih) const { return (ih + padT) % SH < KH && (ih + padT) / SH < OH; }
  bool col_in_window(int64_t iw) const { return (iw + padL) % SW < KW && (iw + padL) / SW < OW; }
};

// y = max pooling of x (NHWC), every image of g.N, threaded.
void max_pool_images(const PoolGeometry& g, const float* x, float* y);

}  // namespace fcnn
