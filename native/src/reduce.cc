// Reductions (sum, mean, max, min) of a tensor viewed as [outer, reduced, inner]: every TF.js
// reduction whose reduced axes are contiguous has that form, which covers bias gradients
// ([N*H*W, C] -> [C]), batch-norm moments and the loss's per-row sums.
// Sums accumulate in double, as TF.js's reference backend does (a JavaScript number).
//
// Arguments: slots::reduce (param-layout.json; filled by src/backend/native/kernels/reduce.ts; op
// codes in src/backend/native/params.ts).
#include <algorithm>
#include <vector>

#include "common.h"

namespace fcnn {
namespace {

enum ReduceOp { R_SUM, R_MEAN, R_MAX, R_MIN };

template <int OP>
inline void combine(double& acc, float v) {
  if constexpr (OP == R_SUM || OP == R_MEAN) acc += v;
  if constexpr (OP == R_MAX) { if (v > acc || v != v) acc = (acc != acc) ? acc : v; }
  if constexpr (OP == R_MIN) { if (v < acc || v != v) acc = (acc != acc) ? acc : v; }
}

template <int OP>
void reduce_loop(const float* x, float* y, int64_t O, int64_t R, int64_t I) {
  const int threads = (O * R * I) > (1 << 15) ? num_threads() : 1;
  // Split the reduced axis too when there are fewer outer rows than threads.
  const int64_t splits = (threads > 1 && O < threads) ? std::min<int64_t>(R, threads) : 1;
  std::vector<double> part(static_cast<size_t>(O * splits * I));
  const int64_t items = O * splits;
#pragma omp parallel for schedule(static) if (threads > 1)
  for (int64_t it = 0; it < items; it++) {
    const int64_t o = it / splits, s = it % splits;
    const int64_t r0 = R * s / splits, r1 = R * (s + 1) / splits;
    double* acc = part.data() + it * I;
    const float* base = x + o * R * I;
    if (I == 1) {
      if constexpr (OP == R_SUM || OP == R_MEAN) {
        // Four independent sums let the compiler vectorise.
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int64_t r = r0;
        for (; r + 4 <= r1; r += 4) {
          a0 += base[r];
          a1 += base[r + 1];
          a2 += base[r + 2];
          a3 += base[r + 3];
        }
        for (; r < r1; r++) a0 += base[r];
        acc[0] = (a0 + a1) + (a2 + a3);
      } else {
        double a = base[r0];
        for (int64_t r = r0 + 1; r < r1; r++) combine<OP>(a, base[r]);
        acc[0] = a;
      }
    } else {
      if constexpr (OP == R_SUM || OP == R_MEAN) {
        std::fill(acc, acc + I, 0.0);
        for (int64_t r = r0; r < r1; r++) {
          const float* row = base + r * I;
          for (int64_t i = 0; i < I; i++) acc[i] += row[i];
        }
      } else {
        for (int64_t i = 0; i < I; i++) acc[i] = base[r0 * I + i];
        for (int64_t r = r0 + 1; r < r1; r++) {
          const float* row = base + r * I;
          for (int64_t i = 0; i < I; i++) combine<OP>(acc[i], row[i]);
        }
      }
    }
  }
  for (int64_t o = 0; o < O; o++) {
    for (int64_t i = 0; i < I; i++) {
      double a = part[(o * splits) * I + i];
      for (int64_t s = 1; s < splits; s++) {
        const double v = part[(o * splits + s) * I + i];
        if constexpr (OP == R_SUM || OP == R_MEAN) a += v;
        else combine<OP>(a, static_cast<float>(v));
      }
      if constexpr (OP == R_MEAN) a /= static_cast<double>(R);
      y[o * I + i] = static_cast<float>(a);
    }
  }
}

void reduce_kernel() {
  namespace arg = slots::reduce;
  const int op = static_cast<int>(PI(arg::op));
  const int64_t O = PI(arg::outer), R = PI(arg::reduced), I = PI(arg::inner);
  if (R < 1) throw std::runtime_error("reduce: empty reduction");
  const float* x = heap_f32(P(arg::x), O * R * I);
  float* y = heap_f32(P(arg::y), O * I);
  switch (op) {
    case R_SUM: reduce_loop<R_SUM>(x, y, O, R, I); break;
    case R_MEAN: reduce_loop<R_MEAN>(x, y, O, R, I); break;
    case R_MAX: reduce_loop<R_MAX>(x, y, O, R, I); break;
    case R_MIN: reduce_loop<R_MIN>(x, y, O, R, I); break;
    default: throw std::runtime_error("unknown reduce op");
  }
}

}  // namespace

void init_reduce(Napi::Env env, Napi::Object exports) {
  exports.Set("reduce", Napi::Function::New(env, kernel<reduce_kernel>));
}

}  // namespace fcnn
