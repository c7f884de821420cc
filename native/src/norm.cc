// Batch normalisation, channels last: the normalisation with given statistics (TF.js's
// FusedBatchNorm kernel), and the pieces of batch-norm training (src/backend/native/patches/
// batch-norm.ts): per-channel moments, the per-channel sums of the backward pass, and the
// gradient of the moments. Sums accumulate in double; each thread sums its own rows.
//
// Arguments: slots::batchNorm, slots::moments, slots::batchNormGradStats, slots::momentsGrad and
// slots::batchNormTrainingGradX (param-layout.json; filled by src/backend/native/kernels/norm.ts).
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"

namespace fcnn {
namespace {

void batch_norm() {
  namespace arg = slots::batchNorm;
  const int64_t rows = PN(arg::rows), C = PN(arg::channels);
  const double eps = P(arg::epsilon);
  const float* x = heap_f32(P(arg::x), size_product({rows, C}));
  const int64_t lm = PN(arg::meanLength), lv = PN(arg::varianceLength), lo = PN(arg::offsetLength), ls = PN(arg::scaleLength);
  // Each statistic has one value per channel, or one for all; an absent offset or scale has length 0.
  const auto fits = [C](int64_t len) { return len == C || len == 1; };
  if (!fits(lm) || !fits(lv) || (P(arg::offset) != -1 && !fits(lo)) || (P(arg::scale) != -1 && !fits(ls)))
    throw std::runtime_error("batchNorm: a statistic's length is neither the channel count nor 1");
  const float* mean = heap_f32(P(arg::mean), lm);
  const float* var = heap_f32(P(arg::variance), lv);
  const float* offset = heap_f32_opt(P(arg::offset), lo);
  const float* scale = heap_f32_opt(P(arg::scale), ls);
  float* y = heap_f32(P(arg::y), size_product({rows, C}));
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

// Runs body(thread, first row, end row) over row blocks, one per thread, and returns how many.
template <typename F>
int for_row_blocks(int64_t rows, int64_t C, F body) {
  const int chunks = rows * C > (1 << 15) ? num_threads() : 1;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int t = 0; t < chunks; t++) body(t, rows * t / chunks, rows * (t + 1) / chunks);
  return chunks;
}

// Sums the per-thread partial sums part[t * C + c] of `chunks` threads into out (as float).
void reduce_parts(const std::vector<double>& part, int chunks, int64_t C, float* out, double scale = 1.0) {
  for (int64_t c = 0; c < C; c++) {
    double s = 0;
    for (int t = 0; t < chunks; t++) s += part[t * C + c];
    out[c] = static_cast<float>(s * scale);
  }
}

// Adds value(r, c) over rows [r0, r1) into acc[c] (double). A double accumulator per element
// vectorises poorly (a float-to-double widening per element); float partial sums over runs of 32
// rows vectorise, and adding each run into double keeps the precision of the long sums.
template <typename F>
inline void accumulate_rows(int64_t r0, int64_t r1, int64_t C, double* acc, F value) {
  thread_local std::vector<float> part;
  part.assign(static_cast<size_t>(C), 0.f);
  float* p = part.data();
  for (int64_t r = r0; r < r1;) {
    const int64_t run_end = std::min(r1, r + 32);
    for (; r < run_end; r++)
      for (int64_t c = 0; c < C; c++) p[c] += value(r, c);
    for (int64_t c = 0; c < C; c++) {
      acc[c] += p[c];
      p[c] = 0.f;
    }
  }
}

// mean and (biased) variance per channel, two passes as TF.js's moments computes them.
void moments() {
  namespace arg = slots::moments;
  const int64_t rows = PN(arg::rows), C = PN(arg::channels);
  const float* x = heap_f32(P(arg::x), size_product({rows, C}));
  float* mean = heap_f32(P(arg::mean), C);
  float* var = heap_f32(P(arg::variance), C);
  const int max_chunks = num_threads();
  std::vector<double> part(static_cast<size_t>(max_chunks * C), 0.0);
  int chunks = for_row_blocks(rows, C, [&](int t, int64_t r0, int64_t r1) {
    accumulate_rows(r0, r1, C, part.data() + t * C, [&](int64_t r, int64_t c) { return x[r * C + c]; });
  });
  reduce_parts(part, chunks, C, mean, 1.0 / static_cast<double>(rows));
  std::fill(part.begin(), part.end(), 0.0);
  const float* m = mean;
  chunks = for_row_blocks(rows, C, [&](int t, int64_t r0, int64_t r1) {
    accumulate_rows(r0, r1, C, part.data() + t * C, [&](int64_t r, int64_t c) {
      const float d = x[r * C + c] - m[c];
      return d * d;
    });
  });
  reduce_parts(part, chunks, C, var, 1.0 / static_cast<double>(rows));
}

// sum(dy) and sum(dy * (x - mean)) per channel: every parameter gradient of batch norm is made of
// these two.
void grad_stats() {
  namespace arg = slots::batchNormGradStats;
  const int64_t rows = PN(arg::rows), C = PN(arg::channels);
  const float* dy = heap_f32(P(arg::dy), size_product({rows, C}));
  const float* x = heap_f32(P(arg::x), size_product({rows, C}));
  const float* mean = heap_f32(P(arg::mean), C);
  float* s1 = heap_f32(P(arg::sumDy), C);
  float* s2 = heap_f32(P(arg::sumDyCentred), C);
  const int max_chunks = num_threads();
  std::vector<double> p1(static_cast<size_t>(max_chunks * C), 0.0), p2(p1);
  const int chunks = for_row_blocks(rows, C, [&](int t, int64_t r0, int64_t r1) {
    accumulate_rows(r0, r1, C, p1.data() + t * C, [&](int64_t r, int64_t c) { return dy[r * C + c]; });
    accumulate_rows(r0, r1, C, p2.data() + t * C,
                    [&](int64_t r, int64_t c) { return dy[r * C + c] * (x[r * C + c] - mean[c]); });
  });
  reduce_parts(p1, chunks, C, s1);
  reduce_parts(p2, chunks, C, s2);
}

// dx = dMean / rows + dVariance * 2 (x - mean) / rows: the gradient of the two moments.
void moments_grad() {
  namespace arg = slots::momentsGrad;
  const int64_t rows = PN(arg::rows), C = PN(arg::channels);
  const float* x = heap_f32(P(arg::x), size_product({rows, C}));
  const float* mean = heap_f32(P(arg::mean), C);
  const float* dmean = heap_f32(P(arg::dMean), C);
  const float* dvar = heap_f32(P(arg::dVariance), C);
  float* dx = heap_f32(P(arg::dx), size_product({rows, C}));
  std::vector<float> a(C), b(C);
  for (int64_t c = 0; c < C; c++) {
    a[c] = static_cast<float>(dmean[c] / static_cast<double>(rows));
    b[c] = static_cast<float>(2.0 * dvar[c] / static_cast<double>(rows));
  }
  const float *ap = a.data(), *bp = b.data();
  for_row_blocks(rows, C, [&](int, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      for (int64_t c = 0; c < C; c++) dx[r * C + c] = ap[c] + bp[c] * (x[r * C + c] - mean[c]);
  });
}

// dx of batch norm with the batch's own statistics, through the statistics too:
// dx = scale / sqrt(var + eps) * (dy - sum(dy) / rows - (x - mean) / (var + eps) * sum(dy (x - mean)) / rows).
void training_grad_x() {
  namespace arg = slots::batchNormTrainingGradX;
  const int64_t rows = PN(arg::rows), C = PN(arg::channels);
  const double eps = P(arg::epsilon);
  const float* dy = heap_f32(P(arg::dy), size_product({rows, C}));
  const float* x = heap_f32(P(arg::x), size_product({rows, C}));
  const float* mean = heap_f32(P(arg::mean), C);
  const float* var = heap_f32(P(arg::variance), C);
  const float* scale = heap_f32_opt(P(arg::scale), C);
  const float* s1 = heap_f32(P(arg::sumDy), C);
  const float* s2 = heap_f32(P(arg::sumDyCentred), C);
  float* dx = heap_f32(P(arg::dx), size_product({rows, C}));
  std::vector<float> a(C), b(C), c(C);
  for (int64_t ch = 0; ch < C; ch++) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[ch]) + eps);
    a[ch] = static_cast<float>((scale ? scale[ch] : 1.0) * inv);
    b[ch] = static_cast<float>(s1[ch] / static_cast<double>(rows));
    c[ch] = static_cast<float>(inv * inv * s2[ch] / static_cast<double>(rows));
  }
  const float *ap = a.data(), *bp = b.data(), *cp = c.data();
  for_row_blocks(rows, C, [&](int, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      for (int64_t ch = 0; ch < C; ch++)
        dx[r * C + ch] = ap[ch] * (dy[r * C + ch] - bp[ch] - (x[r * C + ch] - mean[ch]) * cp[ch]);
  });
}

}  // namespace

void init_norm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNorm", Napi::Function::New(env, kernel<batch_norm>));
  exports.Set("moments", Napi::Function::New(env, kernel<moments>));
  exports.Set("batchNormGradStats", Napi::Function::New(env, kernel<grad_stats>));
  exports.Set("momentsGrad", Napi::Function::New(env, kernel<moments_grad>));
  exports.Set("batchNormTrainingGradX", Napi::Function::New(env, kernel<training_grad_x>));
}

}  // namespace fcnn
