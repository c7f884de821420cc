// Entry point of the fashion-cnn native addon: the kernel call (heap and parameter block checked
// and in place for its duration), threads, info, and the fingerprint of the parameter layout the
// kernels were compiled with.
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "common.h"

namespace fcnn {

// Per JavaScript thread (a worker thread loading the addon gets its own), and only during a kernel
// call: see CallScope in common.h.
thread_local uint8_t* g_heap = nullptr;
thread_local size_t g_heap_bytes = 0;
thread_local const double* g_params = nullptr;

int num_threads() { return omp_get_max_threads(); }

void fail_argument(int k, const char* what, double value) {
  throw std::runtime_error("native kernel: the argument in slot " + std::to_string(k) + " " + what + " (" +
                           std::to_string(value) + ")");
}

Napi::Value call_kernel(const Napi::CallbackInfo& info, void (*body)()) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsArrayBuffer() || !info[1].IsArrayBuffer())
    throw Napi::TypeError::New(env, "native kernel: takes (heap: ArrayBuffer, params: ArrayBuffer)");
  Napi::ArrayBuffer heap = info[0].As<Napi::ArrayBuffer>();
  Napi::ArrayBuffer params = info[1].As<Napi::ArrayBuffer>();
  if (params.ByteLength() != kMaxParams * sizeof(double))
    throw Napi::TypeError::New(env, "native kernel: the parameter block must be " + std::to_string(kMaxParams) + " doubles");
  try {
    CallScope scope(static_cast<uint8_t*>(heap.Data()), heap.ByteLength(), static_cast<const double*>(params.Data()));
    body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("fashion-cnn native kernel failed: ") + e.what());
  }
  return env.Undefined();
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n > 0) omp_set_num_threads(n);
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

static Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  const dnnl_version_t* v = dnnl_version();
  out.Set("dnnl", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  out.Set("threads", omp_get_max_threads());
  const char* isa = "unknown";
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: isa = "sse4.1"; break;
    case dnnl::cpu_isa::avx: isa = "avx"; break;
    case dnnl::cpu_isa::avx2: isa = "avx2"; break;
    case dnnl::cpu_isa::avx512_core: isa = "avx512"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_vnni"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_bf16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_amx"; break;
    default: break;
  }
  out.Set("isa", isa);
  return out;
}

// paramLayout(): the fingerprint of param-layout.json as this build read it. The TypeScript side
// compares it with its own and does not use an addon built from another layout.
static Napi::Value ParamLayout(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), slots::kFingerprint); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("paramLayout", Napi::Function::New(env, ParamLayout));
  init_conv(env, exports);
  init_matmul(env, exports);
  init_pool(env, exports);
  init_eltwise(env, exports);
  init_reduce(env, exports);
  init_norm(env, exports);
  init_random(env, exports);
  init_optim(env, exports);
  init_fused(env, exports);
  init_peak(env, exports);
  init_first_layer(env, exports);
  return exports;
}

}  // namespace fcnn

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return fcnn::Init(env, exports); }

NODE_API_MODULE(fashion_cnn_native, InitAddon)
