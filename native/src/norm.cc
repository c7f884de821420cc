// Batch normalisation with given statistics (TF.js's FusedBatchNorm kernel), channels last.
//
// Parameter block (BN_* in src/backend/native/params.ts):
//   0 x  1 mean  2 variance  3 offset or -1  4 scale or -1  5 y  6 rows  7 channels  8 epsilon
//   9..12 lengths of mean, variance, offset, scale (each the channel count, or 1)
#include <cmath>
#include <vector>

#include "common.h"

namespace fcnn {
namespace {

void batch_norm() {
  const int64_t rows = PI(6), C = PI(7);
  const double eps = P(8);
  const float* x = heap_f32(P(0), rows * C);
  const int64_t lm = PI(9), lv = PI(10), lo = PI(11), ls = PI(12);
  const float* mean = heap_f32(P(1), lm);
  const float* var = heap_f32(P(2), lv);
  const float* offset = heap_f32_opt(P(3), lo);
  const float* scale = heap_f32_opt(P(4), ls);
  float* y = heap_f32(P(5), rows * C);
  // y = (x - mean) * (scale / sqrt(var + eps)) + offset, with the per-channel factor in double.
  std::vector<float> m(C), k(C), b(C);
  for (int64_t c = 0; c < C; c++) {
    const double s = scale ? scale[c % ls] : 1.0;
    m[c] = mean[c % lm];
    k[c] = static_cast<float>(s / std::sqrt(static_cast<double>(var[c % lv]) + eps));
    b[c] = offset ? offset[c % lo] : 0.f;
  }
  const float *mp = m.data(), *kp = k.data(), *bp = b.data();
#pragma omp parallel for schedule(static) if (rows * C > (1 << 15))
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mp[c]) * kp[c] + bp[c];
  }
}

}  // namespace

void init_norm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNorm", Napi::Function::New(env, kernel<batch_norm>));
}

}  // namespace fcnn
