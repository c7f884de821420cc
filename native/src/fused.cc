// Fused pieces of the backward pass of "convolution or dense layer (+ bias) + ReLU", used by the
// native backend's training path (src/backend/native/patches/layer-fusion.ts).
//
// relu_grad_bias: dyAct = dy * step(y) (y is the layer's ReLU output, so step(y) equals TF.js's
// step of the pre-activation, NaN included), and the bias gradient sum(dyAct) over all rows (when
// its slot is not -1), in one pass instead of TF.js's Step, Cast, Multiply and Sum.
//
// Arguments: slots::reluGradBias (param-layout.json; filled by src/backend/native/kernels/fused.ts).
#include <vector>

#include "common.h"

namespace fcnn {
namespace {

void relu_grad_bias() {
  namespace arg = slots::reluGradBias;
  const int64_t rows = PN(arg::rows), C = PN(arg::channels), n = size_product({rows, C});
  const float* dy = heap_f32(P(arg::dy), n);
  const float* y = heap_f32_opt(P(arg::y), n);
  float* out = heap_f32_opt(P(arg::dyAct), n);
  float* bias = heap_f32_opt(P(arg::bias), C);
  const int chunks = n > (1 << 15) ? num_threads() : 1;
  std::vector<double> part(bias ? static_cast<size_t>(chunks * C) : 0);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int t = 0; t < chunks; t++) {
    const int64_t r0 = rows * t / chunks, r1 = rows * (t + 1) / chunks;
    double* acc = bias ? part.data() + t * C : nullptr;
    for (int64_t r = r0; r < r1; r++) {
      const float* d = dy + r * C;
      if (y && out) {
        const float* yr = y + r * C;
        float* o = out + r * C;
        for (int64_t c = 0; c < C; c++) o[c] = yr[c] > 0.f ? d[c] : (yr[c] != yr[c] ? yr[c] : 0.f);
        d = o;
      }
      if (acc)
        for (int64_t c = 0; c < C; c++) acc[c] += d[c];
    }
  }
  if (bias) {
    for (int64_t c = 0; c < C; c++) {
      double s = 0;
      for (int t = 0; t < chunks; t++) s += part[t * C + c];
      bias[c] = static_cast<float>(s);
    }
  }
}

}  // namespace

void init_fused(Napi::Env env, Napi::Object exports) {
  exports.Set("reluGradBias", Napi::Function::New(env, kernel<relu_grad_bias>));
}

}  // namespace fcnn
