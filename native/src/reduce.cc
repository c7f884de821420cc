// Reductions (sum, mean, max, min) of a tensor viewed as [outer, reduced, inner]: every TF.js
// reduction whose reduced axes are contiguous has that form, which covers bias gradients
// ([N*H*W, C] -> [C]), batch-norm moments and the loss's per-row sums.
// Sums accumulate in double, as TF.js's reference backend does (a JavaScript number).
//
// Arguments: slots::reduce (param-layout.json, with the op codes; filled by
// src/backend/native/kernels/reduce.ts).
#include <algorithm>
#include <vector>

#include "common.h"

namespace fcnn {
namespace {

// Operation codes (param-layout.json's "codes").
using R = codes::reduce;

template <int OP>
inline void combine(double& acc, float v) {
  if constexpr (OP == R::Sum || OP == R::Mean) acc += v;
  if constexpr (OP == R::Max) { if (v > acc || v != v) acc = (acc != acc) ? acc : v; }
  if constexpr (OP == R::Min) { if (v < acc || v != v) acc = (acc != acc) ? acc : v; }
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
      if constexpr (OP == R::Sum || OP == R::Mean) {
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
      if constexpr (OP == R::Sum || OP == R::Mean) {
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
        if constexpr (OP == R::Sum || OP == R::Mean) a += v;
        else combine<OP>(a, static_cast<float>(v));
      }
      if constexpr (OP == R::Mean) a /= static_cast<double>(R);
      y[o * I + i] = static_cast<float>(a);
    }
  }
}

void reduce_kernel() {
  namespace arg = slots::reduce;
  const int op = read_code<arg::opCode>(arg::op);
  const int64_t O = PN(arg::outer), Rn = PN(arg::reduced), I = PN(arg::inner);
  if (Rn < 1) throw std::runtime_error("reduce: empty reduction");
  const float* x = heap_f32(P(arg::x), size_product({O, Rn, I}));
  float* y = heap_f32(P(arg::y), size_product({O, I}));
  switch (op) {
    case R::Sum: reduce_loop<R::Sum>(x, y, O, Rn, I); break;
    case R::Mean: reduce_loop<R::Mean>(x, y, O, Rn, I); break;
    case R::Max: reduce_loop<R::Max>(x, y, O, Rn, I); break;
    case R::Min: reduce_loop<R::Min>(x, y, O, Rn, I); break;
    default: throw std::runtime_error("unknown reduce op");
  }
}

}  // namespace

void init_reduce(Napi::Env env, Napi::Object exports) {
  exports.Set("reduce", Napi::Function::New(env, kernel<reduce_kernel>));
}

}  // namespace fcnn
