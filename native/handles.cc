// The tensor handle table and argument helpers shared by all entry points.
#include "common.h"
#include <cmath>

namespace eflip {

// Per thread: each JS context (main thread, every worker_thread) that loads the addon has
// its own handle table; tensors are not shared across contexts.
static thread_local std::vector<at::Tensor> g_slots;
static thread_local std::vector<int64_t> g_bytes;  // bytes reported for each slot (0 for views)
static thread_local std::vector<int32_t> g_free;
static thread_local int64_t g_live = 0;
static thread_local int64_t g_pendingBytes = 0;  // not yet reported to V8
static thread_local Napi::FunctionReference* g_errorFactory = nullptr;

int32_t newHandle(at::Tensor t) {
  int64_t bytes = 0;
  if (t.defined() && !t.is_view() && t.has_storage()) bytes = (int64_t)t.numel() * (int64_t)t.element_size();
  int32_t id;
  if (!g_free.empty()) {
    id = g_free.back();
    g_free.pop_back();
    g_slots[id] = std::move(t);
    g_bytes[id] = bytes;
  } else {
    id = (int32_t)g_slots.size();
    g_slots.push_back(std::move(t));
    g_bytes.push_back(bytes);
  }
  g_live++;
  g_pendingBytes += bytes;
  return id;
}

const at::Tensor& tensorOf(int32_t id) {
  if (id < 0 || (size_t)id >= g_slots.size() || !g_slots[id].defined()) {
    throw ArgError("tensor handle " + std::to_string(id) + " is not live (disposed?)");
  }
  return g_slots[id];
}

void freeHandle(int32_t id) {
  if (id < 0 || (size_t)id >= g_slots.size() || !g_slots[id].defined()) return;
  g_slots[id] = at::Tensor();
  g_pendingBytes -= g_bytes[id];
  g_bytes[id] = 0;
  g_free.push_back(id);
  g_live--;
}

int64_t liveHandles() { return g_live; }

void flushExternalMemory(Napi::Env env, bool force) {
  // Backstop only: keeps V8's heuristics aware of large native allocations.
  if (force || g_pendingBytes > (8 << 20) || g_pendingBytes < -(8 << 20)) {
    Napi::MemoryManagement::AdjustExternalMemory(env, g_pendingBytes);
    g_pendingBytes = 0;
  }
}

int32_t handleArg(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw ArgError(std::string(what) + ": expected a tensor");
  return v.As<Napi::Number>().Int32Value();
}
// An integer argument: a JS number that is an integer within int64 (not NaN, 0.5 or 2^70,
// which Int64Value would turn into 0, 0 or INT64_MAX), a boolean, or a BigInt within int64.
int64_t intArg(const Napi::Value& v, const char* what) {
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::trunc(d))
      throw ArgError(std::string(what) + ": expected an integer, got " + std::to_string(d));
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
      throw ArgError(std::string(what) + ": " + std::to_string(d) + " is outside the int64 range");
    return (int64_t)d;
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (v.IsBigInt()) {
    bool lossless;
    const int64_t i = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw ArgError(std::string(what) + ": BigInt outside the int64 range");
    return i;
  }
  throw ArgError(std::string(what) + ": expected an integer");
}
double numberArg(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw ArgError(std::string(what) + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}
bool boolArg(const Napi::Value& v, const char* what) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
  if (v.IsNumber()) return v.As<Napi::Number>().DoubleValue() != 0;
  throw ArgError(std::string(what) + ": expected a boolean");
}
std::vector<int64_t> intListArg(const Napi::Value& v, const char* what) {
  std::vector<int64_t> out;
  if (v.IsNumber()) {
    out.push_back(intArg(v, what));
    return out;
  }
  if (!v.IsArray()) throw ArgError(std::string(what) + ": expected an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  out.reserve(n);
  for (uint32_t i = 0; i < n; i++) out.push_back(intArg(a.Get(i), what));
  return out;
}

void setErrorFactory(const Napi::Function& f) {
  delete g_errorFactory;
  g_errorFactory = new Napi::FunctionReference(Napi::Persistent(f));
}

void releaseHandles() {
  g_slots.clear();
  g_bytes.clear();
  g_free.clear();
  g_live = 0;
  g_pendingBytes = 0;
  delete g_errorFactory;
  g_errorFactory = nullptr;
}

void throwJs(Napi::Env env, const char* kind, const std::string& message) {
  if (env.IsExceptionPending()) return;
  if (g_errorFactory && !g_errorFactory->IsEmpty()) {
    Napi::Value err = g_errorFactory->Call({Napi::String::New(env, kind), Napi::String::New(env, message)});
    if (env.IsExceptionPending()) return;
    napi_throw(env, err);
    return;
  }
  Napi::Error::New(env, message).ThrowAsJavaScriptException();
}

}  // namespace eflip
