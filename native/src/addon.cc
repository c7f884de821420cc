// Entry point of the fashion-cnn native addon: heap and parameter-block plumbing, threads, info.
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "common.h"

namespace fcnn {

uint8_t* g_heap = nullptr;
size_t g_heap_bytes = 0;
double* g_params = nullptr;

static Napi::Reference<Napi::ArrayBuffer> g_heap_ref;
static Napi::Reference<Napi::ArrayBuffer> g_params_ref;

int num_threads() { return omp_get_max_threads(); }

// setHeap(buffer): the wasm heap's current ArrayBuffer (it is replaced whenever the heap grows).
static Napi::Value SetHeap(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer buf = info[0].As<Napi::ArrayBuffer>();
  g_heap = static_cast<uint8_t*>(buf.Data());
  g_heap_bytes = buf.ByteLength();
  g_heap_ref = Napi::Persistent(buf);
  return info.Env().Undefined();
}

// paramBlock(): the Float64Array backing store kernels read their arguments from.
static Napi::Value ParamBlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (g_params_ref.IsEmpty()) {
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, kMaxParams * sizeof(double));
    g_params = static_cast<double*>(buf.Data());
    g_params_ref = Napi::Persistent(buf);
  }
  return g_params_ref.Value();
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setHeap", Napi::Function::New(env, SetHeap));
  exports.Set("paramBlock", Napi::Function::New(env, ParamBlock));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("info", Napi::Function::New(env, Info));
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
