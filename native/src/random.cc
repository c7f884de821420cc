// Uniform random numbers and dropout, bit-identical to TF.js's.
//
// TF.js draws dropout masks with seedrandom's Alea generator in JavaScript (about 20-50 ns per
// value, which at batch 256 costs more than the convolutions). Alea's state is three 32-bit words
// and a carry held in doubles, and every step is exact integer arithmetic below 2^53, so the
// same sequence comes out of 64-bit integers here. JavaScript seeds the state (Mash, in
// src/backend/native/alea.ts) exactly as seedrandom does, so masks are the same on every backend.
//
// Parameter block (filled by src/backend/native/kernels/training.ts):
//   0 out  1 count  2 mode  3 carry  4..6 state words s0 s1 s2 (as integers, s * 2^32)
//   7 min (mode 0) or keep probability (modes 1, 2)  8 range (mode 0)  9 x (mode 2)
//   mode 0: out = min + range * u               (tf.randomUniform)
//   mode 1: out = floor(u + keep) / keep        (tf.dropout's multiplier)
//   mode 2: out = x * floor(u + keep) / keep    (tf.dropout itself)
//   mode 3: as mode 2, and the mask as bits at 10 (word i, bit j: element 32 i + j is kept)
//   mode 4: out = x * (bit ? 1 / keep : 0), the bits at 10 (the gradient of mode 3; no generator)
#include <algorithm>
#include <cmath>

#include "common.h"

namespace fcnn {
namespace {

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
  const int64_t n = PI(1);
  const int mode = static_cast<int>(PI(2));
  float* out = heap_f32(P(0), n);
  const float* x = mode >= 2 ? heap_f32(P(9), n) : nullptr;
  uint32_t* bits = mode >= 3 ? heap_u32(P(10), (n + 31) / 32) : nullptr;
  if (mode == 4) {
    apply_bits(x, bits, out, n, 1.0f / static_cast<float>(P(7)));
    return;
  }
  Alea g{static_cast<uint64_t>(PI(3)), static_cast<uint64_t>(PI(4)), static_cast<uint64_t>(PI(5)),
         static_cast<uint64_t>(PI(6))};
  // The generator is sequential; the arithmetic on its numbers runs in a second, vectorised loop
  // (a data-dependent branch per value would cost more than generating it).
  constexpr int64_t kBlock = 2048;
  double u[kBlock];
  const double lo = P(7), range = P(8);
  const float keep = static_cast<float>(P(7));
  const float kept = 1.0f / keep;  // floor(u + keep) is 0 or 1, and 1 / keep is what TF.js divides to
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t len = std::min(kBlock, n - i0);
    g.fill(u, len);
    float* o = out + i0;
    if (mode == 0) {
      for (int64_t i = 0; i < len; i++) o[i] = static_cast<float>(lo + range * u[i]);
    } else if (mode == 1) {
      // TF.js stores u in a Float32Array, then adds keep in float32; floor(t) != 0 exactly when t >= 1.
      for (int64_t i = 0; i < len; i++) o[i] = (static_cast<float>(u[i]) + keep) >= 1.0f ? kept : 0.0f;
    } else if (mode == 2) {
      const float* xi = x + i0;
      for (int64_t i = 0; i < len; i++) o[i] = xi[i] * ((static_cast<float>(u[i]) + keep) >= 1.0f ? kept : 0.0f);
    } else {
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
