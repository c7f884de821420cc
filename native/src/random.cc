// Uniform random numbers and dropout, bit-identical to TF.js's.
//
// TF.js draws dropout masks with seedrandom's Alea generator in JavaScript (about 20-50 ns per
// value, which at batch 256 costs more than the convolutions). Alea's state is three 32-bit words
// and a carry held in doubles, and every step is exact integer arithmetic below 2^53, so the
// same sequence comes out of 64-bit integers here. JavaScript seeds the state (Mash, in
// src/backend/native/alea.ts) exactly as seedrandom does, so masks are the same on every backend.
//
// Arguments: slots::randomFill (param-layout.json; filled by src/backend/native/kernels/training.ts):
// the state words s0 s1 s2 and the carry as integers (s * 2^32), and by mode (codes shared with
// param-layout.json's codes.randomMode):
//   uniform:           out = min + range * u               (tf.randomUniform; minOrKeep is min)
//   dropoutMultiplier: out = floor(u + keep) / keep        (tf.dropout's multiplier; minOrKeep is keep)
//   dropout:           out = x * floor(u + keep) / keep    (tf.dropout itself)
//   dropoutWithBits:   as dropout, and the mask as bits (word i, bit j: element 32 i + j is kept)
//   applyBits:         out = x * (bit ? 1 / keep : 0), from the bits (the gradient of
//                      dropoutWithBits; no generator)
#include <algorithm>
#include <cmath>

#include "common.h"

namespace fcnn {
namespace {

// Modes (param-layout.json's "codes").
using M = codes::randomMode;

struct Alea {
  uint64_t c, s0, s1, s2;
  // Fills u[0..n) with the next n numbers (doubles in [0, 1), as Alea returns them).
  void fill(double* u, int64_t n) {
    constexpr double kInv32 = 2.3283064365386963e-10;  // 2^-32
    for (int64_t i = 0; i < n; i++) {
      const uint64_t t = 2091639ull * s0 + c;
      s0 = s1;
      s1 = s2;
      s2 = t & 0xffffffffull;
      c = t >> 32;
      u[i] = static_cast<double>(s2) * kInv32;
    }
  }
};

inline uint32_t* heap_u32(double offset, int64_t count) {
  return reinterpret_cast<uint32_t*>(heap_f32(offset, count));
}

void apply_bits(const float* x, const uint32_t* bits, float* out, int64_t n, float kept) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t w = 0; w < (n + 31) / 32; w++) {
    const uint32_t word = bits[w];
    const int64_t end = std::min<int64_t>(32, n - w * 32);
    for (int64_t j = 0; j < end; j++) out[w * 32 + j] = x[w * 32 + j] * (((word >> j) & 1u) ? kept : 0.0f);
  }
}

void random_fill() {
  namespace arg = slots::randomFill;
  const int64_t n = PN(arg::count);
  const int mode = read_code<arg::modeCode>(arg::mode);
  float* out = heap_f32(P(arg::out), n);
  const float* x = mode >= M::dropout ? heap_f32(P(arg::x), n) : nullptr;
  uint32_t* bits = mode >= M::dropoutWithBits ? heap_u32(P(arg::bits), (n + 31) / 32) : nullptr;
  if (mode == M::applyBits) {
    apply_bits(x, bits, out, n, 1.0f / static_cast<float>(P(arg::minOrKeep)));
    return;
  }
  // Alea's state: three 32-bit words, and a carry below its multiplier.
  const auto word = [](int k, int64_t limit) {
    const int64_t v = PI(k);
    if (v < 0 || v >= limit) throw std::runtime_error("randomFill: generator state out of range");
    return static_cast<uint64_t>(v);
  };
  constexpr int64_t kWord = int64_t{1} << 32;
  Alea g{word(arg::carry, 2091640), word(arg::s0, kWord), word(arg::s1, kWord), word(arg::s2, kWord)};
  // The generator is sequential; the arithmetic on its numbers runs in a second, vectorised loop
  // (a data-dependent branch per value would cost more than generating it).
  constexpr int64_t kBlock = 2048;
  double u[kBlock];
  const double lo = P(arg::minOrKeep), range = P(arg::range);
  const float keep = static_cast<float>(P(arg::minOrKeep));
  const float kept = 1.0f / keep;  // floor(u + keep) is 0 or 1, and 1 / keep is what TF.js divides to
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t len = std::min(kBlock, n - i0);
    g.fill(u, len);
    float* o = out + i0;
    if (mode == M::uniform) {
      for (int64_t i = 0; i < len; i++) o[i] = static_cast<float>(lo + range * u[i]);
    } else if (mode == M::dropoutMultiplier) {
      // TF.js stores u in a Float32Array, then adds keep in float32; floor(t) != 0 exactly when t >= 1.
      for (int64_t i = 0; i < len; i++) o[i] = (static_cast<float>(u[i]) + keep) >= 1.0f ? kept : 0.0f;
    } else if (mode == M::dropout) {
      const float* xi = x + i0;
      for (int64_t i = 0; i < len; i++) o[i] = xi[i] * ((static_cast<float>(u[i]) + keep) >= 1.0f ? kept : 0.0f);
    } else {  // M::dropoutWithBits
      const float* xi = x + i0;
      uint32_t* wb = bits + i0 / 32;  // blocks start at multiples of 32
      for (int64_t w = 0; w < (len + 31) / 32; w++) {
        uint32_t word = 0;
        const int64_t end = std::min<int64_t>(32, len - w * 32);
        for (int64_t j = 0; j < end; j++) {
          const bool k = (static_cast<float>(u[w * 32 + j]) + keep) >= 1.0f;
          o[w * 32 + j] = xi[w * 32 + j] * (k ? kept : 0.0f);
          word |= static_cast<uint32_t>(k) << j;
        }
        wb[w] = word;
      }
    }
  }
}

}  // namespace

void init_random(Napi::Env env, Napi::Object exports) {
  exports.Set("randomFill", Napi::Function::New(env, kernel<random_fill>));
}

}  // namespace fcnn
