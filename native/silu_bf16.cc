// SiLU for bfloat16 CPU tensors (autocast training), computed in float32 a cache-sized block
// at a time:  y = x·σ(x),  dx = dy·σ(x)·(1 + x·(1 − σ(x)))   (ATen's silu / silu_backward).
// libtorch 1.13's bfloat16 SiLU kernels run 2–3× slower than float32 on the CPU; casting the
// whole tensor to float32 first (F.silu's fallback) is as fast but keeps a float32 copy of
// the input for the backward. Here autograd saves the bfloat16 input only; the values are the
// fallback's, float32 SiLU rounded once to bfloat16 (the float32 kernel takes exp from a vector
// routine, and from std::exp for a thread's last < 16 values: where the two threads' chunks
// fall can move a value by one bfloat16 step). Forward + backward, 2 threads, 232 images
// channels-last: 24×44×44 188 → 65 ms, 128×11×11 58 → 25, 384×6×6 58 → 20 (2.3–2.9×).
//   siluBf16(x) → handle of y (same shape and memory format; records the backward when x
//   requires grad)
#include "common.h"
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

namespace eflip {

// Elements per block: input, output and the float32 temporaries stay in a core's L2.
static constexpr int64_t kBlock = 1 << 14;

// A dense tensor (contiguous or channels-last) as it lies in memory; empty_like keeps the layout.
static at::Tensor dense(const at::Tensor& t) {
  return t.is_non_overlapping_and_dense() ? t : t.contiguous();
}

// out[i] = f(ins[i]) block by block over the storage of equally laid-out dense tensors.
template <typename F>
static void blocks(const std::vector<at::Tensor>& ins, at::Tensor& out, F&& f) {
  const int64_t n = out.numel();
  std::vector<at::Tensor> flat;
  for (const auto& t : ins) flat.push_back(t.as_strided({n}, {1}));
  at::Tensor o = out.as_strided({n}, {1});
  at::parallel_for(0, (n + kBlock - 1) / kBlock, 1, [&](int64_t b0, int64_t b1) {
    // OpenMP's worker threads do not inherit the caller's grad mode: the block ops record no graph
    at::NoGradGuard noGrad;
    for (int64_t b = b0; b < b1; b++) {
      const int64_t lo = b * kBlock, len = std::min(kBlock, n - lo);
      std::vector<at::Tensor> part;
      for (const auto& t : flat) part.push_back(t.narrow(0, lo, len).to(at::kFloat));
      o.narrow(0, lo, len).copy_(f(part));  // rounds to bfloat16 once
    }
  });
}

struct SiluBf16 : public torch::autograd::Function<SiluBf16> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    at::Tensor xd = dense(x);
    ctx->save_for_backward({xd});
    at::Tensor y = at::empty_like(xd);
    blocks({xd}, y, [](const std::vector<at::Tensor>& v) { return at::silu(v[0]); });
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::Tensor x = ctx->get_saved_variables()[0];
    if (!grads[0].defined()) return {at::Tensor()};
    at::Tensor dy = grads[0].to(x.scalar_type());
    // the gradient in the input's layout, so both are walked in the same element order
    if (dy.strides() != x.strides()) dy = at::empty_like(x).copy_(dy);
    at::Tensor dx = at::empty_like(x);
    blocks({dy, x}, dx, [](const std::vector<at::Tensor>& v) { return at::silu_backward(v[0], v[1]); });
    return {dx};
  }
};

static Napi::Value SiluBf16Call(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& x = tensorOf(handleArg(info[0], "x"));
    if (!x.device().is_cpu() || x.scalar_type() != at::kBFloat16)
      throw ArgError("siluBf16: expected a bfloat16 CPU tensor");
    return Napi::Number::New(info.Env(), newHandle(SiluBf16::apply(x)));
  });
}

void initSiluBf16(Napi::Env env, Napi::Object exports) {
  exports.Set("siluBf16", Napi::Function::New(env, SiluBf16Call, "siluBf16"));
}

}  // namespace eflip
