// Process-wide runtime controls: version/config, threads, seeding, autocast, CUDA queries.
#include "common.h"
#include <ATen/Context.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <mutex>

namespace eflip {

static Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), TORCH_VERSION); }

static Napi::Value Config(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::String::New(info.Env(), at::show_config()); });
}

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    int64_t n = intArg(info[0], "threads");
    if (n < 1) throw ArgError("setNumThreads: need at least 1 thread");
    at::set_num_threads((int)n);
    return info.Env().Undefined();
  });
}

static Napi::Value GetNumInteropThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_interop_threads()); }

static Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    uint64_t seed = (uint64_t)intArg(info[0], "seed");
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    if (at::hasCUDA()) {
      for (size_t i = 0; i < at::getNumGPUs(); i++) {
        auto gen = at::globalContext().defaultGenerator(c10::Device(at::kCUDA, (c10::DeviceIndex)i));
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_current_seed(seed);
      }
    }
    return info.Env().Undefined();
  });
}

// ---- autocast --------------------------------------------------------------------------
static bool autocastEnabled(bool cuda) {
#if EFLIP_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}
static at::ScalarType autocastDtype(bool cuda) {
#if EFLIP_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}
static void setAutocast(bool cuda, bool enabled, at::ScalarType dtype) {
#if EFLIP_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
#else
  if (cuda) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

// autocastState(device: 'cpu'|'cuda') -> [enabled, dtypeCode]
static Napi::Value AutocastState(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    bool cuda = info[0].As<Napi::String>().Utf8Value() == "cuda";
    Napi::Array a = Napi::Array::New(info.Env(), 2);
    a.Set(0u, Napi::Boolean::New(info.Env(), autocastEnabled(cuda)));
    a.Set(1u, Napi::Number::New(info.Env(), (double)autocastDtype(cuda)));
    return a;
  });
}

// autocastSet(device, enabled, dtypeCode, nestingDelta): enter (+1) / leave (-1) a scope.
static Napi::Value AutocastSet(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    bool cuda = info[0].As<Napi::String>().Utf8Value() == "cuda";
    bool enabled = boolArg(info[1], "enabled");
    auto dtype = (at::ScalarType)intArg(info[2], "dtype");
    int64_t delta = intArg(info[3], "nesting");
    setAutocast(cuda, enabled, dtype);
    if (delta > 0) at::autocast::increment_nesting();
    if (delta < 0 && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    return info.Env().Undefined();
  });
}

// ---- CUDA --------------------------------------------------------------------------------
static Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), at::hasCUDA()); });
}

static Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::Number::New(info.Env(), at::hasCUDA() ? (double)at::getNumGPUs() : 0.0); });
}

// cudaMemInfo(index) -> [freeBytes, totalBytes] through the CUDA runtime libtorch loaded
// (looked up at run time so the addon needs no CUDA headers).
static Napi::Value CudaMemInfo(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    if (!at::hasCUDA()) throw ArgError("CUDA is not available");
    int64_t index = intArg(info[0], "device");
    using GetDev = int (*)(int*);
    using SetDev = int (*)(int);
    using MemInfo = int (*)(size_t*, size_t*);
    auto getDev = (GetDev)dlsym(RTLD_DEFAULT, "cudaGetDevice");
    auto setDev = (SetDev)dlsym(RTLD_DEFAULT, "cudaSetDevice");
    auto memInfo = (MemInfo)dlsym(RTLD_DEFAULT, "cudaMemGetInfo");
    if (!getDev || !setDev || !memInfo) throw ArgError("CUDA runtime symbols not found in the process");
    int prev = 0;
    getDev(&prev);
    if (setDev((int)index) != 0) throw ArgError("cudaSetDevice(" + std::to_string(index) + ") failed");
    size_t freeB = 0, totalB = 0;
    int rc = memInfo(&freeB, &totalB);
    setDev(prev);
    if (rc != 0) throw ArgError("cudaMemGetInfo failed with code " + std::to_string(rc));
    Napi::Array a = Napi::Array::New(info.Env(), 2);
    a.Set(0u, Napi::Number::New(info.Env(), (double)freeB));
    a.Set(1u, Napi::Number::New(info.Env(), (double)totalB));
    return a;
  });
}

static Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  setErrorFactory(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

void initRuntime(Napi::Env env, Napi::Object exports) {
  auto def = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) { exports.Set(name, Napi::Function::New(env, f, name)); };
  def("version", Version);
  def("config", Config);
  def("getNumThreads", GetNumThreads);
  def("setNumThreads", SetNumThreads);
  def("getNumInteropThreads", GetNumInteropThreads);
  def("manualSeed", ManualSeed);
  def("autocastState", AutocastState);
  def("autocastSet", AutocastSet);
  def("cudaAvailable", CudaAvailable);
  def("cudaDeviceCount", CudaDeviceCount);
  def("cudaMemInfo", CudaMemInfo);
  def("setErrorFactory", SetErrorFactory);
}

}  // namespace eflip
