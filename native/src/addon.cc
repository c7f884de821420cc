// Entry point of the fashion-cnn native addon: heap and parameter-block plumbing, threads, info,
// and the fingerprint of the parameter layout the kernels were compiled with.
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "common.h"

namespace fcnn {

// Per JavaScript thread (a worker thread loading the addon gets its own): kernels are called on
// the thread of the TF.js backend whose heap they work on. The buffers themselves are kept alive
// by JavaScript (the wasm module holds its memory; NativeContext holds the parameter block).
thread_local uint8_t* g_heap = nullptr;
thread_local size_t g_heap_bytes = 0;
thread_local double* g_params = nullptr;

int num_threads() { return omp_get_max_threads(); }

// setHeap(buffer): the wasm heap's current ArrayBuffer (it is replaced whenever the heap grows).
static Napi::Value SetHeap(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer buf = info[0].As<Napi::ArrayBuffer>();
  g_heap = static_cast<uint8_t*>(buf.Data());
  g_heap_bytes = buf.ByteLength();
  return info.Env().Undefined();
}

// paramBlock(): a new buffer that kernels read their arguments from from now on. The caller keeps
// it (its memory stays put: V8 never moves an ArrayBuffer's backing store).
static Napi::Value ParamBlock(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), kMaxParams * sizeof(double));
  g_params = static_cast<double*>(buf.Data());
  return buf;
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
  exports.Set("setHeap", Napi::Function::New(env, SetHeap));
  exports.Set("paramBlock", Napi::Function::New(env, ParamBlock));
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
  return exports;
}

}  // namespace fcnn

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return fcnn::Init(env, exports); }

NODE_API_MODULE(fashion_cnn_native, InitAddon)
