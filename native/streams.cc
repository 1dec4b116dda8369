// Host→device batch copies on a side stream, so the copy of the next batch overlaps the
// current step's kernels (what a CUDA data prefetcher does). Written against c10's
// device-generic stream/event API, so it compiles against a CPU-only libtorch and needs no
// CUDA headers; it only runs for an accelerator device (the TS side never calls it on CPU).
//   copyAsync(h, device) -> [dstHandle, copyId]  starts the copy of a (pinned) CPU tensor on
//                                               the device's side stream; the host does not wait
//   waitCopy(copyId)                             makes the device's current stream wait for
//                                               that copy (on the GPU; the host does not block)
#include "common.h"
#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <memory>
#include <unordered_map>

namespace eflip {

struct PendingCopy {
  std::unique_ptr<c10::Event> event;
  c10::Device device;
};
static thread_local std::unordered_map<int64_t, PendingCopy> g_copies;
static thread_local std::unordered_map<std::string, c10::Stream> g_sideStreams;
static thread_local int64_t g_nextCopy = 1;

static c10::Stream sideStream(const c10::impl::VirtualGuardImpl& impl, const c10::Device& dev) {
  auto it = g_sideStreams.find(dev.str());
  if (it != g_sideStreams.end()) return it->second;
  c10::Stream s = impl.getStreamFromGlobalPool(dev, false);
  g_sideStreams.emplace(dev.str(), s);
  return s;
}

static Napi::Value CopyAsync(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& src = tensorOf(handleArg(info[0], "tensor"));
    if (!info[1].IsString()) throw ArgError("copyAsync: expected a device string");
    c10::Device dev(info[1].As<Napi::String>().Utf8Value());
    if (dev.is_cpu() || !dev.has_index()) throw ArgError("copyAsync: the target must be an accelerator device with an index (e.g. cuda:0), got " + dev.str());
    if (!src.device().is_cpu()) throw ArgError("copyAsync: the source must be a CPU tensor, got one on " + src.device().str());
    c10::impl::VirtualGuardImpl impl(dev.type());
    c10::Stream side = sideStream(impl, dev);
    at::Tensor dst;
    {
      c10::StreamGuard g(side);  // also selects the device
      dst = src.to(dev, src.scalar_type(), /*non_blocking=*/true, /*copy=*/false);
    }
    auto event = std::make_unique<c10::Event>(dev.type());
    event->record(side);
    // dst was allocated on the side stream and will be used (and freed) on the current stream:
    // the caching allocator must not hand its block out again before that stream is done with it.
    impl.recordDataPtrOnStream(dst.storage().data_ptr(), impl.getStream(dev));
    int64_t id = g_nextCopy++;
    g_copies.emplace(id, PendingCopy{std::move(event), dev});
    Napi::Array a = Napi::Array::New(info.Env(), 2);
    a.Set(0u, Napi::Number::New(info.Env(), newHandle(dst)));
    a.Set(1u, Napi::Number::New(info.Env(), (double)id));
    return a;
  });
}

static Napi::Value WaitCopy(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    int64_t id = intArg(info[0], "copy id");
    auto it = g_copies.find(id);
    if (it == g_copies.end()) throw ArgError("waitCopy: unknown or already awaited copy " + std::to_string(id));
    c10::impl::VirtualGuardImpl impl(it->second.device.type());
    it->second.event->block(impl.getStream(it->second.device));
    g_copies.erase(it);
    return info.Env().Undefined();
  });
}

void initStreams(Napi::Env env, Napi::Object exports) {
  exports.Set("copyAsync", Napi::Function::New(env, CopyAsync, "copyAsync"));
  exports.Set("waitCopy", Napi::Function::New(env, WaitCopy, "waitCopy"));
}

}  // namespace eflip
