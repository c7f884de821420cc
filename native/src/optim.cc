// Fused Adam update: the arithmetic of TF.js's AdamOptimizer, in the same float32 order (no FMA
// contraction: the addon is built with -ffp-contract=off), one pass over each variable instead of
// about thirteen element-wise kernels.
//
// Arguments: slots::adamUpdate (param-layout.json; filled by src/backend/native/kernels/training.ts),
// the scalars as the float32 values TF.js's scalar tensors hold.
#include <cmath>

#include "common.h"

namespace fcnn {
namespace {

void adam_update() {
  namespace arg = slots::adamUpdate;
  const int64_t n = PN(arg::count);
  const float* value = heap_f32(P(arg::value), n);
  const float* grad = heap_f32(P(arg::gradient), n);
  const float* m = heap_f32(P(arg::m), n);
  const float* v = heap_f32(P(arg::v), n);
  float* value_out = heap_f32(P(arg::newValue), n);
  float* m_out = heap_f32(P(arg::newM), n);
  float* v_out = heap_f32(P(arg::newV), n);
  const float beta1 = static_cast<float>(P(arg::beta1)), one_minus_beta1 = static_cast<float>(P(arg::oneMinusBeta1));
  const float beta2 = static_cast<float>(P(arg::beta2)), one_minus_beta2 = static_cast<float>(P(arg::oneMinusBeta2));
  const float bc1 = static_cast<float>(P(arg::oneMinusAccBeta1)), bc2 = static_cast<float>(P(arg::oneMinusAccBeta2));
  const float eps = static_cast<float>(P(arg::epsilon)), neg_lr = static_cast<float>(P(arg::negLearningRate));
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
