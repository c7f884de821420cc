// Shared state of the fashion-cnn native kernels.
//
// Tensors live in the TF.js wasm backend's heap (an ordinary ArrayBuffer); kernels read and write
// them in place through byte offsets. Arguments travel through a parameter block (a Float64Array
// shared with JavaScript) rather than as N-API arguments: one kernel call then costs one N-API
// transition, whatever the number of shape parameters.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "param_layout.h"

namespace fcnn {

constexpr int kMaxParams = slots::kBlockSize;

extern thread_local uint8_t* g_heap;
extern thread_local size_t g_heap_bytes;
extern thread_local double* g_params;

// The argument in slot k (a name from fcnn::slots).
inline double P(int k) {
  if (!g_params) throw std::runtime_error("native kernel: no parameter block (call paramBlock first)");
  return g_params[k];
}
inline int64_t PI(int k) { return static_cast<int64_t>(g_params[k]); }

// A float tensor at a heap byte offset, checked against the heap bounds: a wrong offset must fail
// loudly rather than scribble over the JavaScript engine's memory.
inline float* heap_f32(double offset, int64_t count) {
  if (offset < 0 || count < 0) throw std::runtime_error("native kernel: negative tensor offset or size");
  const size_t off = static_cast<size_t>(offset);
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  if (off + bytes > g_heap_bytes || off % alignof(float) != 0)
    throw std::runtime_error("native kernel: tensor outside the wasm heap");
  return reinterpret_cast<float*>(g_heap + off);
}

// Optional tensors are passed with offset -1.
inline float* heap_f32_opt(double offset, int64_t count) {
  return offset < 0 ? nullptr : heap_f32(offset, count);
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

// Wraps a kernel so that C++ exceptions (oneDNN's included) reach JavaScript as Errors.
template <void (*F)()>
Napi::Value kernel(const Napi::CallbackInfo& info) {
  try {
    F();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("fashion-cnn native kernel failed: ") + e.what());
  }
  return info.Env().Undefined();
}

}  // namespace fcnn
