// Batched matrix multiplication (with bias and activation fused) on oneDNN's matmul primitive.
// Transposed operands are described by strides, so nothing is copied.
//
// Arguments: slots::matmul (param-layout.json; filled by src/backend/native/kernels/matmul.ts).
#include "common.h"
#include "dnnl_util.h"

namespace fcnn {
namespace {

using dnnl::memory;
using dt = memory::data_type;

struct MatMul {
  dnnl::matmul prim;
  memory a, b, bias, out;
  bool has_bias;
};

thread_local PrimitiveCache<MatMul> cache;

void matmul() {
  namespace arg = slots::matmul;
  const int64_t batchA = PN(arg::batchA), batchB = PN(arg::batchB), M = PN(arg::M), K = PN(arg::K), N = PN(arg::N);
  const bool transA = PI(arg::transposeA) != 0, transB = PI(arg::transposeB) != 0, has_bias = P(arg::bias) != -1;
  const int act = read_code<arg::activationCode>(arg::activation);
  const float alpha = static_cast<float>(P(arg::alpha));
  const int64_t batch = batchA > batchB ? batchA : batchB;
  if (batchA != batchB && batchA != 1 && batchB != 1) throw std::runtime_error("matmul: batch sizes neither equal nor 1");
  float* a = heap_f32(P(arg::a), size_product({batchA, M, K}));
  float* b = heap_f32(P(arg::b), size_product({batchB, K, N}));
  float* bias = heap_f32_opt(P(arg::bias), N);
  float* out = heap_f32(P(arg::out), size_product({batch, M, N}));

  const std::vector<int64_t> key{batchA, batchB, M, K, N, transA, transB, has_bias, act, float_bits(alpha)};
  MatMul* e = cache.find(key);
  if (!e) {
    auto u = std::make_unique<MatMul>();
    memory::desc a_md({batchA, M, K}, dt::f32, transA ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
    memory::desc b_md({batchB, K, N}, dt::f32, transB ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
    memory::desc o_md({batch, M, N}, dt::f32, memory::dims{M * N, N, 1});
    auto attr = activation_attr(act, alpha);
    auto& eng = dnnl_engine();
    dnnl::matmul::primitive_desc pd =
        has_bias ? dnnl::matmul::primitive_desc(
                       dnnl::matmul::desc(a_md, b_md, memory::desc({1, 1, N}, dt::f32, memory::dims{N, N, 1}), o_md),
                       attr, eng)
                 : dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, o_md), attr, eng);
    u->prim = dnnl::matmul(pd);
    u->a = memory(a_md, eng, nullptr);
    u->b = memory(b_md, eng, nullptr);
    u->out = memory(o_md, eng, nullptr);
    if (has_bias) u->bias = memory(pd.bias_desc(), eng, nullptr);
    u->has_bias = has_bias;
    e = cache.insert(key, std::move(u));
  }
  e->a.set_data_handle(a);
  e->b.set_data_handle(b);
  e->out.set_data_handle(out);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->out}};
  if (e->has_bias) {
    e->bias.set_data_handle(bias);
    args[DNNL_ARG_BIAS] = e->bias;
  }
  auto& s = dnnl_stream();
  e->prim.execute(s, args);
  s.wait();
}

}  // namespace

void init_matmul(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, kernel<matmul>));
}

}  // namespace fcnn
