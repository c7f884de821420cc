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

struct AdamScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, bc1, bc2, eps, neg_lr;
};

// Elements [i0, i1). Seven arrays are too many for the compiler's run-time overlap checks, without
// which it would not vectorise: the pointers are declared not to overlap (TF.js never hands a
// kernel an output that overlaps an input). A function of its own, because OpenMP's outlined
// loop body loses the qualifier.
void adam_range(const float* __restrict value, const float* __restrict grad, const float* __restrict m,
                const float* __restrict v, float* __restrict value_out, float* __restrict m_out,
                float* __restrict v_out, int64_t i0, int64_t i1, const AdamScalars& s) {
  for (int64_t i = i0; i < i1; i++) {
    const float g = grad[i];
    const float m1 = m[i] * s.beta1 + g * s.one_minus_beta1;
    const float v1 = v[i] * s.beta2 + (g * g) * s.one_minus_beta2;
    const float mhat = m1 / s.bc1;
    const float vhat = v1 / s.bc2;
    value_out[i] = (mhat / (std::sqrt(vhat) + s.eps)) * s.neg_lr + value[i];
    m_out[i] = m1;
    v_out[i] = v1;
  }
}

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
  const AdamScalars s{static_cast<float>(P(arg::beta1)),       static_cast<float>(P(arg::oneMinusBeta1)),
                      static_cast<float>(P(arg::beta2)),       static_cast<float>(P(arg::oneMinusBeta2)),
                      static_cast<float>(P(arg::oneMinusAccBeta1)), static_cast<float>(P(arg::oneMinusAccBeta2)),
                      static_cast<float>(P(arg::epsilon)),     static_cast<float>(P(arg::negLearningRate))};
  const int chunks = n > (1 << 15) ? num_threads() : 1;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int t = 0; t < chunks; t++) adam_range(value, grad, m, v, value_out, m_out, v_out, n * t / chunks, n * (t + 1) / chunks, s);
}

}  // namespace

void init_optim(Napi::Env env, Napi::Object exports) {
  exports.Set("adamUpdate", Napi::Function::New(env, kernel<adam_update>));
}

}  // namespace fcnn
