// The machine's float32 peak: a loop of independent fused multiply-adds, on 1 to N threads, with
// the widest vectors of the instruction set oneDNN uses here (so that ONEDNN_MAX_CPU_ISA=AVX2 on an
// AVX-512 host gives an AVX2 host's peak). `bench` divides a model's FLOPs per second by it.
//
// peakGflops(threads, ms) -> { gflops, lanes }: the best of several timed runs within about `ms`
// milliseconds, and the floats per vector used (16, 8, or 4 without FMA).
#include <immintrin.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "common.h"

namespace fcnn {
namespace {

// Twelve accumulators: more than the FMA latency (4 cycles) times the FMA units (2) needs, so
// that every unit issues one FMA per cycle. The multiplier and addend keep the values normal.
constexpr int kChains = 12;

__attribute__((target("avx512f"))) float fma_loop_512(int64_t iterations) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
  for (int64_t k = 0; k < iterations; k++)
    for (int i = 0; i < kChains; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float fma_loop_256(int64_t iterations) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
  for (int64_t k = 0; k < iterations; k++)
    for (int i = 0; i < kChains; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  float total = 0;
  for (float v : out) total += v;
  return total;
}

// Without FMA: a multiply and an add (counted as the same two FLOPs).
float mul_add_loop_128(int64_t iterations) {
  __m128 acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = _mm_set1_ps(static_cast<float>(i));
  const __m128 a = _mm_set1_ps(0.999999f), b = _mm_set1_ps(1e-6f);
  for (int64_t k = 0; k < iterations; k++)
    for (int i = 0; i < kChains; i++) acc[i] = _mm_add_ps(_mm_mul_ps(acc[i], a), b);
  __m128 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm_add_ps(s, acc[i]);
  alignas(16) float out[4];
  _mm_store_ps(out, s);
  return out[0] + out[1] + out[2] + out[3];
}

// Floats per vector of the instruction set oneDNN runs with (and the CPU has).
int vector_lanes() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core:
    case dnnl::cpu_isa::avx512_core_vnni:
    case dnnl::cpu_isa::avx512_core_bf16:
    case dnnl::cpu_isa::avx512_core_amx:
      if (__builtin_cpu_supports("avx512f")) return 16;
      [[fallthrough]];
    case dnnl::cpu_isa::avx2:
      if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
      [[fallthrough]];
    default:
      return 4;
  }
}

volatile float g_sink;

// GFLOP/s of `threads` threads each running `iterations` iterations at once.
double timed_run(int lanes, int threads, int64_t iterations) {
  float sums[256] = {};
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const float s = lanes == 16 ? fma_loop_512(iterations) : lanes == 8 ? fma_loop_256(iterations) : mul_add_loop_128(iterations);
    if (t < 256) sums[t] = s;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  g_sink = sums[0];
  const double flops = 2.0 * lanes * kChains * static_cast<double>(iterations) * threads;
  return flops / seconds / 1e9;
}

Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "peakGflops(threads, ms)");
  const int threads = info[0].As<Napi::Number>().Int32Value();
  const double ms = info[1].As<Napi::Number>().DoubleValue();
  if (threads < 1 || threads > 256 || !(ms > 0 && ms <= 60000)) throw Napi::RangeError::New(env, "peakGflops: threads in 1..256, ms in (0, 60000]");
  const int lanes = vector_lanes();
  // Calibrate to runs of about 20 ms (a clock-speed ramp is over by then), then keep the best run.
  int64_t iterations = 1 << 16;
  double best = timed_run(lanes, threads, iterations);
  while (2.0 * lanes * kChains * iterations * threads / (best * 1e9) < 0.02 && iterations < (int64_t{1} << 40)) {
    iterations *= 2;
    best = std::max(best, timed_run(lanes, threads, iterations));
  }
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() < ms)
    best = std::max(best, timed_run(lanes, threads, iterations));
  Napi::Object out = Napi::Object::New(env);
  out.Set("gflops", best);
  out.Set("lanes", lanes);
  return out;
}

}  // namespace

void init_peak(Napi::Env env, Napi::Object exports) {
  exports.Set("peakGflops", Napi::Function::New(env, PeakGflops));
}

}  // namespace fcnn
