// Element-wise kernels: unary maps, binary maps with NumPy broadcasting, and AddN.
// NaN handling follows TF.js's reference (cpu) backend (e.g. Maximum propagates NaN, Step(NaN) is
// NaN), so that native results equal the reference ones.
//
// Arguments: slots::unary, slots::binary and slots::addN (param-layout.json, with the op codes;
// filled by src/backend/native/kernels/elementwise.ts).
#include <cmath>
#include <vector>

#include "common.h"

namespace fcnn {
namespace {

constexpr int64_t kParallelMin = 1 << 15;  // below this, a parallel region costs more than it saves

// Operation codes (param-layout.json's "codes").
using U = codes::unary;
using B = codes::binary;

template <int OP>
inline float unary(float x, float alpha, float beta) {
  if constexpr (OP == U::Relu) return x < 0.f ? 0.f : x;
  if constexpr (OP == U::Relu6) return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
  if constexpr (OP == U::Step) return x != x ? x : (x > 0.f ? 1.f : alpha);
  if constexpr (OP == U::Square) return x * x;
  if constexpr (OP == U::Sqrt) return std::sqrt(x);
  if constexpr (OP == U::Rsqrt) return 1.f / std::sqrt(x);
  if constexpr (OP == U::Neg) return -x;
  if constexpr (OP == U::Exp) return std::exp(x);
  if constexpr (OP == U::Log) return std::log(x);
  if constexpr (OP == U::Abs) return std::fabs(x);
  if constexpr (OP == U::Floor) return std::floor(x);
  if constexpr (OP == U::Ceil) return std::ceil(x);
  if constexpr (OP == U::Reciprocal) return 1.f / x;
  if constexpr (OP == U::Sigmoid) return 1.f / (1.f + std::exp(-x));
  if constexpr (OP == U::Tanh) return std::tanh(x);
  if constexpr (OP == U::LeakyRelu) return x < 0.f ? alpha * x : x;
  if constexpr (OP == U::Elu) return x >= 0.f ? x : std::expm1(x);
  if constexpr (OP == U::ClipByValue) return x > beta ? beta : (x < alpha ? alpha : x);
  return x;
}

template <int OP>
void unary_loop(const float* x, float* y, int64_t n, float alpha, float beta) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = unary<OP>(x[i], alpha, beta);
}

void unary_kernel() {
  namespace arg = slots::unary;
  const int op = read_code<arg::opCode>(arg::op);
  const int64_t n = PN(arg::count);
  const float* x = heap_f32(P(arg::x), n);
  float* y = heap_f32(P(arg::y), n);
  const float alpha = static_cast<float>(P(arg::alpha)), beta = static_cast<float>(P(arg::beta));
  switch (op) {
#define CASE(OP) \
  case OP: unary_loop<OP>(x, y, n, alpha, beta); break;
    CASE(U::Relu) CASE(U::Relu6) CASE(U::Step) CASE(U::Square) CASE(U::Sqrt) CASE(U::Rsqrt) CASE(U::Neg)
    CASE(U::Exp) CASE(U::Log) CASE(U::Abs) CASE(U::Floor) CASE(U::Ceil) CASE(U::Reciprocal) CASE(U::Sigmoid)
    CASE(U::Tanh) CASE(U::LeakyRelu) CASE(U::Elu) CASE(U::ClipByValue)
#undef CASE
    default: throw std::runtime_error("unknown unary op");
  }
}

template <int OP>
inline float binary(float a, float b) {
  if constexpr (OP == B::Add) return a + b;
  if constexpr (OP == B::Sub) return a - b;
  if constexpr (OP == B::Multiply) return a * b;
  if constexpr (OP == B::RealDiv) return a / b;
  if constexpr (OP == B::SquaredDifference) return (a - b) * (a - b);
  if constexpr (OP == B::Maximum) return (a > b || a != a) ? a : b;
  if constexpr (OP == B::Minimum) return (a < b || a != a) ? a : b;
  return 0.f;
}

// One contiguous run of the innermost dimension; a and b either advance with it or stay put.
template <int OP>
inline void binary_run(float* o, const float* a, bool a_moves, const float* b, bool b_moves, int64_t n) {
  if (a_moves && b_moves) {
    for (int64_t i = 0; i < n; i++) o[i] = binary<OP>(a[i], b[i]);
  } else if (a_moves) {
    const float bv = *b;
    for (int64_t i = 0; i < n; i++) o[i] = binary<OP>(a[i], bv);
  } else if (b_moves) {
    const float av = *a;
    for (int64_t i = 0; i < n; i++) o[i] = binary<OP>(av, b[i]);
  } else {
    const float v = binary<OP>(*a, *b);
    for (int64_t i = 0; i < n; i++) o[i] = v;
  }
}

constexpr int kMaxRank = slots::binary::outShapeLength;
static_assert(slots::binary::aStridesLength == kMaxRank && slots::binary::bStridesLength == kMaxRank,
              "binary: one shape entry and two strides per dimension");

struct Broadcast {
  int rank = 0;
  int64_t shape[kMaxRank], sa[kMaxRank], sb[kMaxRank];  // innermost dimension last; its strides are 0 or 1
};

// Drops size-1 dimensions and merges neighbours that are laid out as one, so that the common
// cases (same shape, scalar, bias over rows) become one or two loops.
Broadcast coalesce(int rank, const int64_t* shape, const int64_t* sa, const int64_t* sb) {
  Broadcast r;
  for (int i = 0; i < rank; i++) {
    if (shape[i] == 1) continue;
    if (r.rank > 0) {
      const int j = r.rank - 1;
      if (r.sa[j] == sa[i] * shape[i] && r.sb[j] == sb[i] * shape[i]) {
        r.shape[j] *= shape[i];
        r.sa[j] = sa[i];
        r.sb[j] = sb[i];
        continue;
      }
    }
    r.shape[r.rank] = shape[i];
    r.sa[r.rank] = sa[i];
    r.sb[r.rank] = sb[i];
    r.rank++;
  }
  if (r.rank == 0) {
    r.rank = 1;
    r.shape[0] = 1;
    r.sa[0] = 0;
    r.sb[0] = 0;
  }
  // The innermost loop needs unit or zero strides; otherwise add a trivial innermost dimension.
  const int j = r.rank - 1;
  if ((r.sa[j] != 0 && r.sa[j] != 1) || (r.sb[j] != 0 && r.sb[j] != 1)) {
    r.shape[r.rank] = 1;
    r.sa[r.rank] = 0;
    r.sb[r.rank] = 0;
    r.rank++;
  }
  return r;
}

template <int OP>
void binary_loop(const Broadcast& bc, const float* a, const float* b, float* o) {
  const int last = bc.rank - 1;
  const int64_t inner = bc.shape[last];
  int64_t rows = 1;
  for (int i = 0; i < last; i++) rows *= bc.shape[i];
  const int64_t total = rows * inner;
  const bool a_moves = bc.sa[last] == 1, b_moves = bc.sb[last] == 1;
  const int chunks = total > kParallelMin ? num_threads() : 1;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int t = 0; t < chunks; t++) {
    const int64_t start = total * t / chunks, end = total * (t + 1) / chunks;
    int64_t pos = start;
    while (pos < end) {
      int64_t row = pos / inner;
      const int64_t col = pos % inner;
      int64_t offa = 0, offb = 0;
      for (int i = last - 1; i >= 0; i--) {
        const int64_t idx = row % bc.shape[i];
        row /= bc.shape[i];
        offa += idx * bc.sa[i];
        offb += idx * bc.sb[i];
      }
      const int64_t len = std::min(inner - col, end - pos);
      binary_run<OP>(o + pos, a + offa + (a_moves ? col : 0), a_moves, b + offb + (b_moves ? col : 0), b_moves, len);
      pos += len;
    }
  }
}

void binary_kernel() {
  namespace arg = slots::binary;
  const int op = read_code<arg::opCode>(arg::op);
  const int rank = static_cast<int>(PI(arg::rank));
  if (rank < 0 || rank > kMaxRank) throw std::runtime_error("binary op: rank above " + std::to_string(kMaxRank));
  int64_t shape[kMaxRank], sa[kMaxRank], sb[kMaxRank], total = 1;
  const int64_t a_size = PN(arg::aSize), b_size = PN(arg::bSize);
  int64_t a_last = 0, b_last = 0;  // the largest element index each operand's strides reach
  for (int i = 0; i < rank; i++) {
    shape[i] = PN(arg::outShape + i);
    sa[i] = PN(arg::aStrides + i);
    sb[i] = PN(arg::bStrides + i);
    total = size_product({total, shape[i]});
    if (shape[i] > 0) {
      a_last += sa[i] * (shape[i] - 1);
      b_last += sb[i] * (shape[i] - 1);
    }
  }
  const float* a = heap_f32(P(arg::a), a_size);
  const float* b = heap_f32(P(arg::b), b_size);
  float* o = heap_f32(P(arg::out), total);
  if (total > 0 && (a_last >= a_size || b_last >= b_size)) throw std::runtime_error("binary op: strides reach past an operand");
  if (total == 0) return;
  const Broadcast bc = coalesce(rank, shape, sa, sb);
  switch (op) {
#define CASE(OP) \
  case OP: binary_loop<OP>(bc, a, b, o); break;
    CASE(B::Add) CASE(B::Sub) CASE(B::Multiply) CASE(B::RealDiv) CASE(B::SquaredDifference) CASE(B::Maximum) CASE(B::Minimum)
#undef CASE
    default: throw std::runtime_error("unknown binary op");
  }
}

void add_n_kernel() {
  namespace arg = slots::addN;
  const int64_t n = PN(arg::count);
  const int k = static_cast<int>(PN(arg::inputCount));
  if (k < 1 || k > arg::inputsLength) throw std::runtime_error("addN: bad number of inputs");
  float* o = heap_f32(P(arg::out), n);
  std::vector<const float*> in(k);
  for (int j = 0; j < k; j++) in[j] = heap_f32(P(arg::inputs + j), n);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    float s = in[0][i];
    for (int j = 1; j < k; j++) s += in[j][i];
    o[i] = s;
  }
}

}  // namespace

void init_eltwise(Napi::Env env, Napi::Object exports) {
  exports.Set("unary", Napi::Function::New(env, kernel<unary_kernel>));
  exports.Set("binary", Napi::Function::New(env, kernel<binary_kernel>));
  exports.Set("addN", Napi::Function::New(env, kernel<add_n_kernel>));
}

}  // namespace fcnn
