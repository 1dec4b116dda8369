// Shared declarations of the eflip native addon: the tensor handle table, argument errors
// and the guard that turns every C++ exception into a typed JS error (never a crash).
#pragma once
#include <napi.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <torch/version.h>
#include <string>
#include <vector>

// True when the linked libtorch is at least maj.min (the c10d and autocast APIs moved in 2.x).
#define EFLIP_TORCH_AT_LEAST(maj, min) (TORCH_VERSION_MAJOR > (maj) || (TORCH_VERSION_MAJOR == (maj) && TORCH_VERSION_MINOR >= (min)))

namespace eflip {

// Thrown by argument conversion; becomes a JS TypeError-like EngineError.
struct ArgError : std::runtime_error {
  explicit ArgError(const std::string& m) : std::runtime_error(m) {}
};

// ---- handle table: JS holds small integer ids, C++ holds the at::Tensor -----------------
int32_t newHandle(at::Tensor t);        // registers a tensor, returns its id
const at::Tensor& tensorOf(int32_t id);  // throws ArgError on a freed/unknown id
void freeHandle(int32_t id);
int64_t liveHandles();
void flushExternalMemory(Napi::Env env, bool force = false);  // reports native bytes to V8 (backstop only)

int32_t handleArg(const Napi::Value& v, const char* what);
int64_t intArg(const Napi::Value& v, const char* what);
double numberArg(const Napi::Value& v, const char* what);
bool boolArg(const Napi::Value& v, const char* what);
std::vector<int64_t> intListArg(const Napi::Value& v, const char* what);

// ---- errors ---------------------------------------------------------------------------
// kind: "torch" | "index" | "value" | "type" | "notImplemented" | "oom" | "arg"
void throwJs(Napi::Env env, const char* kind, const std::string& message);
void setErrorFactory(const Napi::Function& f);
// Frees this context's tensors and references (env cleanup: process or worker exit).
void releaseHandles();
void releaseDispatch();

template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, F&& body) {
  Napi::Env env = info.Env();
  try {
    return body();
  } catch (const ArgError& e) {
    throwJs(env, "arg", e.what());
  } catch (const c10::IndexError& e) {
    throwJs(env, "index", e.what_without_backtrace());
  } catch (const c10::ValueError& e) {
    throwJs(env, "value", e.what_without_backtrace());
  } catch (const c10::TypeError& e) {
    throwJs(env, "type", e.what_without_backtrace());
  } catch (const c10::NotImplementedError& e) {
    throwJs(env, "notImplemented", e.what_without_backtrace());
  } catch (const c10::OutOfMemoryError& e) {
    throwJs(env, "oom", e.what_without_backtrace());
  } catch (const c10::Error& e) {
    throwJs(env, "torch", e.what_without_backtrace());
  } catch (const std::exception& e) {
    throwJs(env, "torch", e.what());
  } catch (...) {
    throwJs(env, "torch", "unknown C++ exception");
  }
  return env.Undefined();
}

// ---- module parts ---------------------------------------------------------------------
void initDispatch(Napi::Env env, Napi::Object exports);
void initTensors(Napi::Env env, Napi::Object exports);
void initRuntime(Napi::Env env, Napi::Object exports);
void initDistributed(Napi::Env env, Napi::Object exports);
void initStreams(Napi::Env env, Napi::Object exports);

}  // namespace eflip
