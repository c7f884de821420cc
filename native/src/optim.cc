// Fused Adam update: the arithmetic of TF.js's AdamOptimizer, in the same float32 order (no FMA
// contraction: the addon is built with -ffp-contract=off), one pass over each variable instead of
// about thirteen element-wise kernels.
//
// Parameter block (filled by src/backend/native/kernels/training.ts):
//   0 value  1 gradient  2 first moment  3 second moment  4 count
//   5 new value  6 new first moment  7 new second moment
//   8 beta1  9 1 - beta1  10 beta2  11 1 - beta2  12 1 - beta1^t  13 1 - beta2^t  14 epsilon  15 -lr
//   (all scalars as the float32 values TF.js's scalar tensors hold)
#include <cmath>

#include "common.h"

namespace fcnn {
namespace {

void adam_update() {
  const int64_t n = PI(4);
  const float* value = heap_f32(P(0), n);
  const float* grad = heap_f32(P(1), n);
  const float* m = heap_f32(P(2), n);
  const float* v = heap_f32(P(3), n);
  float* value_out = heap_f32(P(5), n);
  float* m_out = heap_f32(P(6), n);
  float* v_out = heap_f32(P(7), n);
  const float beta1 = static_cast<float>(P(8)), one_minus_beta1 = static_cast<float>(P(9));
  const float beta2 = static_cast<float>(P(10)), one_minus_beta2 = static_cast<float>(P(11));
  const float bc1 = static_cast<float>(P(12)), bc2 = static_cast<float>(P(13));
  const float eps = static_cast<float>(P(14)), neg_lr = static_cast<float>(P(15));
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; i++) {
    const float g = grad[i];
    const float m1 = m[i] * beta1 + g * one_minus_beta1;
    const float v1 = v[i] * beta2 + (g * g) * one_minus_beta2;
    const float mhat = m1 / bc1;
    const float vhat = v1 / bc2;
    value_out[i] = (mhat / (std::sqrt(vhat) + eps)) * neg_lr + value[i];
    m_out[i] = m1;
    v_out[i] = v1;
  }
}

}  // namespace

void init_optim(Napi::Env env, Napi::Object exports) {
  exports.Set("adamUpdate", Napi::Function::New(env, kernel<adam_update>));
}

}  // namespace fcnn
