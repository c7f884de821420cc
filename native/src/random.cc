// Uniform random numbers and dropout multipliers, bit-identical to TF.js's.
//
// TF.js draws dropout masks with seedrandom's Alea generator in JavaScript (about 20-50 ns per
// value, which at batch 256 costs more than the convolutions). Alea's state is three 32-bit words
// and a carry held in doubles, and every step is exact integer arithmetic below 2^53, so the
// same sequence comes out of 64-bit integers here. JavaScript seeds the state (Mash, in
// src/backend/native/alea.ts) exactly as seedrandom does, so masks are the same on every backend.
//
// Parameter block (RND_* in src/backend/native/params.ts):
//   0 out  1 count  2 mode (0 = uniform min + range * u, 1 = dropout multiplier)
//   3 carry  4..6 state words s0 s1 s2 (as integers, s * 2^32)  7 min or keep probability  8 range
#include <cmath>

#include "common.h"

namespace fcnn {
namespace {

void random_fill() {
  const int64_t n = PI(1);
  const int mode = static_cast<int>(PI(2));
  float* out = heap_f32(P(0), n);
  uint64_t c = static_cast<uint64_t>(PI(3));
  uint64_t s0 = static_cast<uint64_t>(PI(4)), s1 = static_cast<uint64_t>(PI(5)), s2 = static_cast<uint64_t>(PI(6));
  constexpr double kInv32 = 2.3283064365386963e-10;  // 2^-32
  if (mode == 0) {
    const double lo = P(7), range = P(8);
    for (int64_t i = 0; i < n; i++) {
      const uint64_t t = 2091639ull * s0 + c;
      s0 = s1;
      s1 = s2;
      s2 = t & 0xffffffffull;
      c = t >> 32;
      out[i] = static_cast<float>(lo + range * (static_cast<double>(s2) * kInv32));
    }
  } else {
    // TF.js: floor(u + keep) / keep, each step in float32.
    const float keep = static_cast<float>(P(7));
    const float kept = 1.0f / keep;
    for (int64_t i = 0; i < n; i++) {
      const uint64_t t = 2091639ull * s0 + c;
      s0 = s1;
      s1 = s2;
      s2 = t & 0xffffffffull;
      c = t >> 32;
      const float u = static_cast<float>(static_cast<double>(s2) * kInv32);
      out[i] = std::floor(u + keep) != 0.0f ? kept : 0.0f;
    }
  }
}

}  // namespace

void init_random(Napi::Env env, Napi::Object exports) {
  exports.Set("randomFill", Napi::Function::New(env, kernel<random_fill>));
}

}  // namespace fcnn
