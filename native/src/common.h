// Shared state of the fashion-cnn native kernels.
//
// Tensors live in the TF.js wasm backend's heap (an ordinary ArrayBuffer); kernels read and write
// them in place through byte offsets. Arguments travel through a parameter block (a Float64Array
// of JavaScript's) rather than as N-API arguments: one kernel call then costs one N-API
// transition, whatever the number of shape parameters. Every kernel function takes both, the heap
// and the block, as its two arguments: kernel(heap, params).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <initializer_list>
#include <string>

#include "param_layout.h"

namespace fcnn {

constexpr int kMaxParams = slots::kBlockSize;

// The heap and the parameter block of the kernel call in progress on this thread: set by kernel()
// (below) from the call's own arguments, for the duration of the call, and null otherwise. Nothing
// is kept between calls, so a kernel can never see a heap buffer that growth has since replaced.
extern thread_local uint8_t* g_heap;
extern thread_local size_t g_heap_bytes;
extern thread_local const double* g_params;

[[noreturn]] void fail_argument(int k, const char* what, double value);

// The argument in slot k (a name from fcnn::slots). NaN is what JavaScript leaves in a slot the
// call did not write (see src/backend/native/context.ts, invoke): reading one is an error.
inline double P(int k) {
  if (!g_params) throw std::runtime_error("native kernel: no parameter block (kernels are called through invoke)");
  if (k < 0 || k >= kMaxParams) fail_argument(k, "is outside the parameter block", 0);
  const double v = g_params[k];
  if (v != v) fail_argument(k, "was not set", v);
  return v;
}

// An integer argument: finite, whole and within +-2^53 (where doubles hold every integer).
inline int64_t PI(int k) {
  const double v = P(k);
  constexpr double kLimit = 9007199254740992.0;  // 2^53
  if (!(v >= -kLimit && v <= kLimit) || v != static_cast<double>(static_cast<int64_t>(v)))
    fail_argument(k, "is not an integer within +-2^53", v);
  return static_cast<int64_t>(v);
}

// A size or count (a tensor dimension, an element count): a whole number in [0, 2^31).
inline int64_t PN(int k) {
  const int64_t v = PI(k);
  if (v < 0 || v >= (int64_t{1} << 31)) fail_argument(k, "is not a size in [0, 2^31)", static_cast<double>(v));
  return v;
}

// An operation code of list Codes (codes::activation, ...): one of its kCount codes.
template <typename Codes>
inline int read_code(int k) {
  const int64_t v = PI(k);
  if (v < 0 || v >= Codes::kCount)
    throw std::runtime_error(std::string("native kernel: unknown ") + Codes::kName + " code " + std::to_string(v));
  return static_cast<int>(v);
}

// The product of sizes, refusing one that does not fit the wasm heap's 4 GiB (nor int64).
inline int64_t size_product(std::initializer_list<int64_t> sizes) {
  int64_t n = 1;
  for (const int64_t s : sizes) {
    if (s < 0 || __builtin_mul_overflow(n, s, &n) || n > (int64_t{1} << 32))
      throw std::runtime_error("native kernel: a tensor size is negative or larger than the heap");
  }
  return n;
}

// A float tensor at a heap byte offset, checked against the heap bounds: a wrong offset must fail
// loudly rather than scribble over the JavaScript engine's memory.
inline float* heap_f32(double offset, int64_t count) {
  if (!g_heap) throw std::runtime_error("native kernel: no heap (kernels are called through invoke)");
  if (!(offset >= 0 && offset <= 4294967296.0) || offset != static_cast<double>(static_cast<int64_t>(offset)))
    throw std::runtime_error("native kernel: a tensor offset is not a whole number within the heap");
  if (count < 0 || count > (int64_t{1} << 32)) throw std::runtime_error("native kernel: negative or oversized tensor size");
  const size_t off = static_cast<size_t>(offset);
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  if (off > g_heap_bytes || bytes > g_heap_bytes - off || off % alignof(float) != 0)
    throw std::runtime_error("native kernel: tensor outside the wasm heap");
  return reinterpret_cast<float*>(g_heap + off);
}

// Optional tensors are passed with offset -1 (and only -1: any other negative offset is an error).
inline float* heap_f32_opt(double offset, int64_t count) {
  return offset == -1 ? nullptr : heap_f32(offset, count);
}

int num_threads();

// Registration hooks, one per source file.
void init_conv(Napi::Env env, Napi::Object exports);
void init_matmul(Napi::Env env, Napi::Object exports);
void init_pool(Napi::Env env, Napi::Object exports);
void init_eltwise(Napi::Env env, Napi::Object exports);
void init_reduce(Napi::Env env, Napi::Object exports);
void init_norm(Napi::Env env, Napi::Object exports);
void init_random(Napi::Env env, Napi::Object exports);
void init_optim(Napi::Env env, Napi::Object exports);
void init_fused(Napi::Env env, Napi::Object exports);
void init_peak(Napi::Env env, Napi::Object exports);
void init_first_layer(Napi::Env env, Napi::Object exports);

// Sets g_heap and g_params for one kernel call, and clears them when it ends (or throws).
class CallScope {
 public:
  CallScope(uint8_t* heap, size_t bytes, const double* params) {
    g_heap = heap;
    g_heap_bytes = bytes;
    g_params = params;
  }
  ~CallScope() {
    g_heap = nullptr;
    g_heap_bytes = 0;
    g_params = nullptr;
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
};

// Checks a kernel call's two arguments (the wasm heap's current ArrayBuffer and the parameter
// block) and runs `body` with them in place.
Napi::Value call_kernel(const Napi::CallbackInfo& info, void (*body)());

// A kernel as an addon function kernel(heap, params): the heap and the arguments travel with every
// call, and C++ exceptions (oneDNN's included) reach JavaScript as Errors.
template <void (*F)()>
Napi::Value kernel(const Napi::CallbackInfo& info) {
  return call_kernel(info, F);
}

}  // namespace fcnn
