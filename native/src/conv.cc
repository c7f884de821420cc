// 2-D convolution forward (with bias and activation fused), and both backward passes, on oneDNN.
//
// Tensors are TF.js layouts: activations NHWC, filters HWIO [kh, kw, in, out]. oneDNN reads and
// writes the activations in place (NHWC); it may keep the (small) weights in a blocked layout of
// its choosing, reordered on every call, which costs little next to the convolution itself.
//
// Arguments: slots::conv (param-layout.json; filled by src/backend/native/kernels/conv.ts).
// scaleShift is an inference batch norm that follows the layer, fused as a per-channel scale and
// shift after the activation (src/backend/native/kernels/norm.ts).
#include "common.h"
#include "dnnl_util.h"
#include "first_layer.h"
#include "pool.h"

#include <algorithm>
#include <vector>

namespace fcnn {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& dnnl_engine() {
  thread_local dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}
dnnl::stream& dnnl_stream() {
  thread_local dnnl::stream s(dnnl_engine());
  return s;
}

namespace {

namespace arg = slots::conv;

struct Geometry {
  int64_t N, H, W, C, KH, KW, OC, OH, OW, SH, SW, DH, DW, padT, padL, padB, padR;
  static Geometry read() {
    Geometry g;
#define FCNN_READ(f) g.f = PN(arg::geometry + slots::convGeometry::f);
    FCNN_CONV_GEOMETRY_FIELDS(FCNN_READ)
#undef FCNN_READ
    return g;
  }
  std::vector<int64_t> key(int64_t extra1 = 0, int64_t extra2 = 0, int64_t extra3 = 0) const {
    std::vector<int64_t> k(&N, &N + slots::convGeometry::kCount);
    k.push_back(extra1);
    k.push_back(extra2);
    k.push_back(extra3);
    return k;
  }
  memory::dims src_dims() const { return {N, C, H, W}; }
  memory::dims dst_dims() const { return {N, OC, OH, OW}; }
  memory::dims wei_dims() const { return {OC, C, KH, KW}; }
  memory::dims strides() const { return {SH, SW}; }
  memory::dims dilates() const { return {DH - 1, DW - 1}; }
  memory::dims pad_l() const { return {padT, padL}; }
  memory::dims pad_r() const { return {padB, padR}; }
  ConvShape shape() const { return {N, H, W, C, KH, KW, OC, OH, OW, SH, SW, DH, DW, padT, padL, padB, padR}; }
  int64_t src_size() const { return size_product({N, H, W, C}); }
  int64_t dst_size() const { return size_product({N, OH, OW, OC}); }
  int64_t wei_size() const { return size_product({KH, KW, C, OC}); }
};
// key() reads the fields as one array.
static_assert(sizeof(Geometry) == slots::convGeometry::kCount * sizeof(int64_t), "Geometry: one int64_t per field");

memory::desc md(const memory::dims& d, tag t) { return memory::desc(d, dt::f32, t); }

dnnl::convolution_forward::primitive_desc forward_pd(const Geometry& g, dnnl::prop_kind prop, bool bias,
                                                     const dnnl::primitive_attr& attr) {
  auto wei_any = md(g.wei_dims(), tag::any);
  auto src = md(g.src_dims(), tag::nhwc);
  auto dst = md(g.dst_dims(), tag::nhwc);
  if (bias) {
    dnnl::convolution_forward::desc d(prop, dnnl::algorithm::convolution_direct, src, wei_any,
                                      md({g.OC}, tag::x), dst, g.strides(), g.dilates(), g.pad_l(), g.pad_r());
    return dnnl::convolution_forward::primitive_desc(d, attr, dnnl_engine());
  }
  dnnl::convolution_forward::desc d(prop, dnnl::algorithm::convolution_direct, src, wei_any, dst, g.strides(),
                                    g.dilates(), g.pad_l(), g.pad_r());
  return dnnl::convolution_forward::primitive_desc(d, attr, dnnl_engine());
}

// Weights in TF.js HWIO order, and (when oneDNN prefers another layout) their reordered copy.
struct Weights {
  memory user;
  memory internal;
  dnnl::reorder to_internal;    // user -> internal (forward, backprop-input)
  dnnl::reorder to_user;        // internal -> user (backprop-filter)
  bool reorder_needed = false;

  void init(const Geometry& g, const memory::desc& wanted, bool from_user) {
    auto& eng = dnnl_engine();
    user = memory(md(g.wei_dims(), tag::hwio), eng, nullptr);
    reorder_needed = wanted != user.get_desc();
    if (reorder_needed) {
      internal = memory(wanted, eng);
      if (from_user) to_internal = dnnl::reorder(user, internal);
      else to_user = dnnl::reorder(internal, user);
    } else {
      internal = user;
    }
  }
};

struct ConvFwd {
  dnnl::convolution_forward prim;
  memory src, dst, bias;
  memory scale, shift;  // per-channel post-op operands, when a batch norm is fused
  int scale_post_op = -1;
  Weights wei;
  bool has_bias;
};

struct ConvBwdData {
  dnnl::convolution_backward_data prim;
  memory diff_dst, diff_src;
  Weights wei;
};

struct ConvBwdWeights {
  dnnl::convolution_backward_weights prim;
  memory src, diff_dst;
  Weights wei;
};

thread_local PrimitiveCache<ConvFwd> fwd_cache;
thread_local PrimitiveCache<ConvBwdData> bwd_data_cache;
thread_local PrimitiveCache<ConvBwdWeights> bwd_weights_cache;

ConvFwd* forward_entry(const Geometry& g, bool has_bias, int act, float alpha, bool scale_shift = false) {
  auto key = g.key(has_bias, act, float_bits(alpha));
  key.push_back(scale_shift);
  ConvFwd* e = fwd_cache.find(key);
  if (e) return e;
  auto u = std::make_unique<ConvFwd>();
  dnnl::primitive_attr attr = activation_attr(act, alpha);
  const auto channel = md({1, g.OC, 1, 1}, tag::nhwc);
  if (scale_shift) {
    dnnl::post_ops ops = attr.get_post_ops();
    u->scale_post_op = ops.len();
    ops.append_binary(dnnl::algorithm::binary_mul, channel);
    ops.append_binary(dnnl::algorithm::binary_add, channel);
    attr.set_post_ops(ops);
    u->scale = memory(channel, dnnl_engine(), nullptr);
    u->shift = memory(channel, dnnl_engine(), nullptr);
  }
  auto pd = forward_pd(g, dnnl::prop_kind::forward_inference, has_bias, attr);
  u->prim = dnnl::convolution_forward(pd);
  u->src = memory(pd.src_desc(), dnnl_engine(), nullptr);
  u->dst = memory(pd.dst_desc(), dnnl_engine(), nullptr);
  if (has_bias) u->bias = memory(pd.bias_desc(), dnnl_engine(), nullptr);
  u->has_bias = has_bias;
  u->wei.init(g, pd.weights_desc(), true);
  return fwd_cache.insert(key, std::move(u));
}

void run_forward(ConvFwd* e, float* x, float* w, float* b, float* y, float* scale_shift = nullptr) {
  auto& s = dnnl_stream();
  e->src.set_data_handle(x);
  e->dst.set_data_handle(y);
  e->wei.user.set_data_handle(w);
  if (e->wei.reorder_needed) e->wei.to_internal.execute(s, e->wei.user, e->wei.internal);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei.internal}, {DNNL_ARG_DST, e->dst}};
  if (e->has_bias) {
    e->bias.set_data_handle(b);
    args[DNNL_ARG_BIAS] = e->bias;
  }
  if (e->scale_post_op >= 0) {
    const int64_t oc = e->dst.get_desc().dims()[1];
    e->scale.set_data_handle(scale_shift);
    e->shift.set_data_handle(scale_shift + oc);
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(e->scale_post_op) | DNNL_ARG_SRC_1] = e->scale;
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(e->scale_post_op + 1) | DNNL_ARG_SRC_1] = e->shift;
  }
  e->prim.execute(s, args);
  s.wait();
}

void conv2d_forward() {
  const Geometry g = Geometry::read();
  const bool has_bias = P(arg::bias) != -1;
  const int act = read_code<arg::activationCode>(arg::activation);
  const float alpha = static_cast<float>(P(arg::alpha));
  float* scale_shift = heap_f32_opt(P(arg::scaleShift), 2 * g.OC);
  float* x = heap_f32(P(arg::a), g.src_size());
  float* w = heap_f32(P(arg::b), g.wei_size());
  float* b = heap_f32_opt(P(arg::bias), g.OC);
  float* y = heap_f32(P(arg::out), g.dst_size());
  if (first_conv_fits(g.shape(), act)) {
    first_conv_forward(g.shape(), x, w, b, act, scale_shift, y, 0, g.N);
    return;
  }
  run_forward(forward_entry(g, has_bias, act, alpha, scale_shift != nullptr), x, w, b, y, scale_shift);
}

// Convolution followed by max pooling, a few images at a time so that the convolution's output is
// pooled while it is still in cache: the pooling never reads it back from memory, and the output
// itself is written only when asked for (training needs it for the backward pass; inference does
// not). Arguments: as conv2d (out: the convolution output, or -1), then pooled (the pooled output)
// and poolGeometry (the pooling; its input is the convolution's output).
void conv2d_pool() {
  const Geometry g = Geometry::read();
  const PoolGeometry pg = PoolGeometry::read(arg::poolGeometry);
  const int act = read_code<arg::activationCode>(arg::activation);
  const float alpha = static_cast<float>(P(arg::alpha));
  float* x = heap_f32(P(arg::a), g.src_size());
  float* w = heap_f32(P(arg::b), g.wei_size());
  float* b = heap_f32_opt(P(arg::bias), g.OC);
  float* y = heap_f32_opt(P(arg::out), g.dst_size());
  float* pooled = heap_f32(P(arg::pooled), size_product({pg.N, pg.OH, pg.OW, pg.C}));
  if (pg.N != g.N || pg.H != g.OH || pg.W != g.OW || pg.C != g.OC)
    throw std::runtime_error("conv2dPool: the pooling's input is not the convolution's output");
  float* scale_shift = heap_f32_opt(P(arg::scaleShift), 2 * g.OC);
  const int64_t in_image = g.H * g.W * g.C, out_image = g.OH * g.OW * g.OC, pooled_image = pg.OH * pg.OW * pg.C;
  // About 1 MiB of convolution output per chunk: it stays in the (2 MiB per core) L2 cache.
  const int64_t chunk = std::min<int64_t>(g.N, std::max<int64_t>(1, (int64_t{1} << 20) / (out_image * 4)));
  thread_local std::vector<float> scratch;
  if (!y && static_cast<int64_t>(scratch.size()) < chunk * out_image) scratch.resize(chunk * out_image);
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    Geometry gc = g;
    gc.N = std::min(chunk, g.N - n0);
    PoolGeometry pc = pg;
    pc.N = gc.N;
    float* out = y ? y + n0 * out_image : scratch.data();
    if (first_conv_fits(gc.shape(), act)) first_conv_forward(gc.shape(), x + n0 * in_image, w, b, act, scale_shift, out, 0, gc.N);
    else run_forward(forward_entry(gc, b != nullptr, act, alpha, scale_shift != nullptr), x + n0 * in_image, w, b, out, scale_shift);
    max_pool_images(pc, out, pooled + n0 * pooled_image);
  }
}

// dx = conv2d_transpose(dy, w). Arguments: a = dy, b = filter, out = dx.
void conv2d_backprop_input() {
  const Geometry g = Geometry::read();
  float* dy = heap_f32(P(arg::a), g.dst_size());
  float* w = heap_f32(P(arg::b), g.wei_size());
  float* dx = heap_f32(P(arg::out), g.src_size());

  const auto key = g.key();
  ConvBwdData* e = bwd_data_cache.find(key);
  if (!e) {
    auto u = std::make_unique<ConvBwdData>();
    auto hint = forward_pd(g, dnnl::prop_kind::forward_training, false, dnnl::primitive_attr());
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, md(g.src_dims(), tag::nhwc),
                                            md(g.wei_dims(), tag::any), md(g.dst_dims(), tag::nhwc), g.strides(),
                                            g.dilates(), g.pad_l(), g.pad_r());
    dnnl::convolution_backward_data::primitive_desc pd(d, dnnl_engine(), hint);
    u->prim = dnnl::convolution_backward_data(pd);
    u->diff_dst = memory(pd.diff_dst_desc(), dnnl_engine(), nullptr);
    u->diff_src = memory(pd.diff_src_desc(), dnnl_engine(), nullptr);
    u->wei.init(g, pd.weights_desc(), true);
    e = bwd_data_cache.insert(key, std::move(u));
  }
  auto& s = dnnl_stream();
  e->diff_dst.set_data_handle(dy);
  e->diff_src.set_data_handle(dx);
  e->wei.user.set_data_handle(w);
  if (e->wei.reorder_needed) e->wei.to_internal.execute(s, e->wei.user, e->wei.internal);
  e->prim.execute(s, {{DNNL_ARG_DIFF_DST, e->diff_dst},
                      {DNNL_ARG_WEIGHTS, e->wei.internal},
                      {DNNL_ARG_DIFF_SRC, e->diff_src}});
  s.wait();
}

// dw = correlation of x with dy. Arguments: a = x, b = dy, out = dw (HWIO).
void conv2d_backprop_filter() {
  const Geometry g = Geometry::read();
  float* x = heap_f32(P(arg::a), g.src_size());
  float* dy = heap_f32(P(arg::b), g.dst_size());
  float* dw = heap_f32(P(arg::out), g.wei_size());

  const auto key = g.key();
  ConvBwdWeights* e = bwd_weights_cache.find(key);
  if (!e) {
    auto u = std::make_unique<ConvBwdWeights>();
    auto hint = forward_pd(g, dnnl::prop_kind::forward_training, false, dnnl::primitive_attr());
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, md(g.src_dims(), tag::nhwc),
                                               md(g.wei_dims(), tag::any), md(g.dst_dims(), tag::nhwc),
                                               g.strides(), g.dilates(), g.pad_l(), g.pad_r());
    dnnl::convolution_backward_weights::primitive_desc pd(d, dnnl_engine(), hint);
    u->prim = dnnl::convolution_backward_weights(pd);
    u->src = memory(pd.src_desc(), dnnl_engine(), nullptr);
    u->diff_dst = memory(pd.diff_dst_desc(), dnnl_engine(), nullptr);
    u->wei.init(g, pd.diff_weights_desc(), false);
    e = bwd_weights_cache.insert(key, std::move(u));
  }
  auto& s = dnnl_stream();
  e->src.set_data_handle(x);
  e->diff_dst.set_data_handle(dy);
  e->wei.user.set_data_handle(dw);
  e->prim.execute(s, {{DNNL_ARG_SRC, e->src},
                      {DNNL_ARG_DIFF_DST, e->diff_dst},
                      {DNNL_ARG_DIFF_WEIGHTS, e->wei.internal}});
  if (e->wei.reorder_needed) e->wei.to_user.execute(s, e->wei.internal, e->wei.user);
  s.wait();
}

}  // namespace

void init_conv(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, kernel<conv2d_forward>));
  exports.Set("conv2dPool", Napi::Function::New(env, kernel<conv2d_pool>));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, kernel<conv2d_backprop_input>));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, kernel<conv2d_backprop_filter>));
}

}  // namespace fcnn
