// oneDNN plumbing shared by the convolution and matmul kernels: one engine and stream, a
// primitive cache keyed by shapes (so that a training step creates no primitive after the first),
// and activation post-ops.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "param_layout.h"

namespace fcnn {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();

// An activation (codes::activation, from param-layout.json) as a oneDNN post-op.
inline dnnl::primitive_attr activation_attr(int act, float alpha) {
  using A = codes::activation;
  dnnl::primitive_attr attr;
  dnnl::post_ops ops;
  switch (act) {
    case A::linear: break;
    case A::relu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
    case A::relu6: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
    case A::leakyrelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
    case A::elu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f); break;
    case A::sigmoid: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
    default: throw std::runtime_error("unknown activation code " + std::to_string(act));
  }
  attr.set_post_ops(ops);
  return attr;
}

// A cache of primitives keyed by the integer parameters that define them. Shapes change rarely
// (a new batch size, evaluation vs training), so the cache stays small; it is cleared if it ever
// grows past a bound rather than evicting one by one.
template <typename Entry>
class PrimitiveCache {
 public:
  Entry* find(const std::vector<int64_t>& key) {
    auto it = map_.find(to_string(key));
    return it == map_.end() ? nullptr : it->second.get();
  }
  Entry* insert(const std::vector<int64_t>& key, std::unique_ptr<Entry> e) {
    if (map_.size() >= 512) map_.clear();
    Entry* raw = e.get();
    map_[to_string(key)] = std::move(e);
    return raw;
  }

 private:
  static std::string to_string(const std::vector<int64_t>& key) {
    std::string s(key.size() * sizeof(int64_t), '\0');
    std::memcpy(s.data(), key.data(), s.size());
    return s;
  }
  std::unordered_map<std::string, std::unique_ptr<Entry>> map_;
};

inline int64_t float_bits(float f) {
  int32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

}  // namespace fcnn
