// Multi-tensor optimizer step: AdamW over all parameters in one call.
//   adamwStep(params, grads, expAvgs, expAvgSqs, decays, decayFactor, w1, beta2, w2, bc2Sqrt, eps, negStepSize)
// Per parameter (torch.optim.AdamW's single-tensor step, in the same float operations):
//   p ← p·decayFactor (where decays[i]);  m ← m + w1·(g − m);  v ← v·β2 + w2·g·g
//   p ← p + negStepSize·m / (√v / bc2Sqrt + eps)
// Float32 CPU parameters whose gradient and moments share their dense layout take one fused
// pass over memory (p, g, m, v read once, p, m, v written once), split over the intra-op
// threads across all parameters together; any other parameter (a GPU, another dtype or
// layout) takes the same steps as ATen ops. The scalars are computed in TypeScript.
#include "common.h"
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <algorithm>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-math-errno", "tree-vectorize", "fp-contract=off")
#endif

namespace eflip {

struct AdamWScalars {
  float decayFactor, w1, beta2, w2, bc2Sqrt, eps, negStepSize;
};

static std::vector<at::Tensor> tensorListArg(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw ArgError(std::string("adamwStep: expected an array of tensors for ") + what);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(tensorOf(handleArg(a.Get(i), what)));
  return out;
}

static bool fusable(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v) {
  if (!p.device().is_cpu() || p.scalar_type() != at::kFloat || !p.is_non_overlapping_and_dense()) return false;
  for (const at::Tensor* t : {&g, &m, &v}) {
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || t->sizes() != p.sizes() || t->strides() != p.strides())
      return false;
  }
  return true;
}

// The fused pass over elements [begin, end) of one parameter's storage; the branches are
// template arguments so the loop body is straight-line and the compiler vectorises it (sqrt
// without errno: binding.gyp's -fno-math-errno; no a·b+c contraction into FMA: the pragma
// above, so the roundings are those of the separate ATen ops).
template <bool Decay, bool LowWeight>
static void adamwSpanT(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                       const AdamWScalars s, int64_t begin, int64_t end) {
  const float df = s.decayFactor, w1 = s.w1, w1c = 1.0f - s.w1, b2 = s.beta2, w2 = s.w2, bc = s.bc2Sqrt, eps = s.eps,
              ns = s.negStepSize;
  for (int64_t i = begin; i < end; i++) {
    const float gi = g[i], m0 = m[i];
    const float pi = Decay ? p[i] * df : p[i];                     // mul_(decayFactor)
    const float mi = LowWeight ? m0 + w1 * (gi - m0)               // lerp_(g, w1): ATen's form for w1 < 0.5
                               : gi - (gi - m0) * w1c;             //   and for w1 ≥ 0.5
    const float vi = v[i] * b2 + w2 * gi * gi;                     // mul_(β2).addcmul_(g, g, w2)
    const float denom = __builtin_sqrtf(vi) / bc + eps;            // sqrt().div_(bc2Sqrt).add_(eps)
    p[i] = pi + ns * mi / denom;                                   // addcdiv_(m, denom, −stepSize)
    m[i] = mi;
    v[i] = vi;
  }
}

static void adamwSpan(float* p, const float* g, float* m, float* v, bool decay, const AdamWScalars& s, int64_t begin, int64_t end) {
  const bool low = s.w1 < 0.5f;
  if (decay && low) adamwSpanT<true, true>(p, g, m, v, s, begin, end);
  else if (decay) adamwSpanT<true, false>(p, g, m, v, s, begin, end);
  else if (low) adamwSpanT<false, true>(p, g, m, v, s, begin, end);
  else adamwSpanT<false, false>(p, g, m, v, s, begin, end);
}

// The same step as ATen ops (any device, dtype or layout).
static void adamwOps(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, bool decay, const AdamWScalars& s) {
  if (decay) p.mul_(s.decayFactor);
  m.lerp_(g, s.w1);
  v.mul_(s.beta2).addcmul_(g, g, s.w2);
  at::Tensor denom = v.sqrt().div_(s.bc2Sqrt).add_(s.eps);
  p.addcdiv_(m, denom, s.negStepSize);
}

static Napi::Value AdamWStep(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    if (info.Length() != 12) throw ArgError("adamwStep: expected 12 arguments");
    std::vector<at::Tensor> ps = tensorListArg(info[0], "params"), gs = tensorListArg(info[1], "grads"),
                            ms = tensorListArg(info[2], "expAvgs"), vs = tensorListArg(info[3], "expAvgSqs");
    if (!info[4].IsArray()) throw ArgError("adamwStep: expected an array of booleans for decays");
    Napi::Array da = info[4].As<Napi::Array>();
    const size_t n = ps.size();
    if (gs.size() != n || ms.size() != n || vs.size() != n || da.Length() != n)
      throw ArgError("adamwStep: params, grads, moments and decays must have the same length");
    std::vector<char> decays(n);
    for (size_t i = 0; i < n; i++) decays[i] = boolArg(da.Get((uint32_t)i), "decay") ? 1 : 0;
    AdamWScalars s{(float)numberArg(info[5], "decayFactor"), (float)numberArg(info[6], "w1"), (float)numberArg(info[7], "beta2"),
                   (float)numberArg(info[8], "w2"), (float)numberArg(info[9], "bc2Sqrt"), (float)numberArg(info[10], "eps"),
                   (float)numberArg(info[11], "negStepSize")};
    for (size_t i = 0; i < n; i++) {
      if (gs[i].sizes() != ps[i].sizes() || ms[i].sizes() != ps[i].sizes() || vs[i].sizes() != ps[i].sizes())
        throw ArgError("adamwStep: gradient or moment " + std::to_string(i) + " does not match its parameter's shape");
    }
    c10::NoGradGuard noGrad;
    // the fused parameters, laid end to end: one parallel loop over all their elements
    std::vector<size_t> fused;
    std::vector<int64_t> start{0};
    for (size_t i = 0; i < n; i++) {
      if (fusable(ps[i], gs[i], ms[i], vs[i])) {
        fused.push_back(i);
        start.push_back(start.back() + ps[i].numel());
      } else {
        adamwOps(ps[i], gs[i], ms[i], vs[i], decays[i] != 0, s);
      }
    }
    const int64_t total = start.back();
    if (total > 0) {
      at::parallel_for(0, total, 1 << 15, [&](int64_t begin, int64_t end) {
        // the first fused parameter that overlaps [begin, end)
        size_t k = std::upper_bound(start.begin(), start.end(), begin) - start.begin() - 1;
        for (; k < fused.size() && start[k] < end; k++) {
          const size_t i = fused[k];
          const int64_t lo = std::max(begin, start[k]) - start[k], hi = std::min(end, start[k + 1]) - start[k];
          adamwSpan(ps[i].data_ptr<float>(), gs[i].data_ptr<float>(), ms[i].data_ptr<float>(), vs[i].data_ptr<float>(),
                    decays[i] != 0, s, lo, hi);
        }
      });
    }
    return Napi::Number::New(info.Env(), (double)fused.size());
  });
}

void initForeach(Napi::Env env, Napi::Object exports) {
  exports.Set("adamwStep", Napi::Function::New(env, AdamWStep, "adamwStep"));
}

}  // namespace eflip
