// Tensor handles from/to JS memory, metadata, and autograd entry points.
#include "common.h"
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <memory>
#include <torch/csrc/autograd/autograd.h>
#include <cstring>

namespace eflip {

static std::vector<int64_t> shapeArg(const Napi::Value& v) {
  auto s = intListArg(v, "shape");
  for (auto d : s)
    if (d < 0) throw ArgError("shape: negative dimension");
  return s;
}

static c10::ScalarType dtypeArg(const Napi::Value& v) {
  int64_t code = intArg(v, "dtype");
  if (code < 0 || code > (int64_t)c10::ScalarType::BFloat16) throw ArgError("dtype: unknown dtype code " + std::to_string(code));
  return (c10::ScalarType)code;
}

// fromBytes(bytes: ArrayBufferView | ArrayBuffer, dtype, shape) -> handle. One copy into a
// fresh CPU tensor (JS memory may move or be freed; tensors outlive it).
static Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const uint8_t* data;
    size_t len;
    // the element pointer straight from napi (also for views of a SharedArrayBuffer, which
    // node-addon-api's ArrayBuffer() refuses)
    if (info[0].IsTypedArray()) {
      void* p = nullptr;
      size_t count = 0;
      napi_typedarray_type type;
      if (napi_get_typedarray_info(info.Env(), info[0], &type, &count, &p, nullptr, nullptr) != napi_ok)
        throw ArgError("fromBytes: cannot read the typed array");
      data = static_cast<const uint8_t*>(p);
      len = info[0].As<Napi::TypedArray>().ByteLength();
    } else if (info[0].IsDataView()) {
      void* p = nullptr;
      size_t bytes = 0;
      if (napi_get_dataview_info(info.Env(), info[0], &bytes, &p, nullptr, nullptr) != napi_ok)
        throw ArgError("fromBytes: cannot read the DataView");
      data = static_cast<const uint8_t*>(p);
      len = bytes;
    } else if (info[0].IsArrayBuffer()) {
      auto ab = info[0].As<Napi::ArrayBuffer>();
      data = static_cast<const uint8_t*>(ab.Data());
      len = ab.ByteLength();
    } else {
      throw ArgError("fromBytes: expected a TypedArray, DataView or ArrayBuffer");
    }
    auto dtype = dtypeArg(info[1]);
    auto shape = shapeArg(info[2]);
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t need = (size_t)t.numel() * t.element_size();
    if (need != len) throw ArgError("fromBytes: " + std::to_string(len) + " bytes given, shape needs " + std::to_string(need));
    if (need) std::memcpy(t.data_ptr(), data, need);
    return Napi::Number::New(info.Env(), newHandle(std::move(t)));
  });
}

// The largest ArrayBuffer V8 makes here (4 GiB): past it the external buffer's creation fails
// after its finalizer has run, and node-addon-api frees the tensor a second time (abort).
static void checkArrayBufferBytes(const char* what, size_t n) {
  constexpr size_t kMax = (size_t)1 << 32;
  if (n > kMax)
    throw ArgError(std::string(what) + ": " + std::to_string(n) +
                   " bytes are more than a JavaScript ArrayBuffer holds (4 GiB); read the tensor in parts (narrow)");
}

static at::Tensor cpuContiguous(const at::Tensor& t) {
  at::Tensor c = t.detach();
  if (!c.device().is_cpu()) c = c.to(at::kCPU);
  return c.contiguous();
}

// toBytes(h) -> ArrayBuffer: a copy of the tensor's elements in row-major order (CPU).
static Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& t0 = tensorOf(handleArg(info[0], "tensor"));
    checkArrayBufferBytes("toBytes", (size_t)t0.numel() * t0.element_size());
    at::Tensor c = cpuContiguous(t0);
    size_t n = (size_t)c.numel() * c.element_size();
    auto ab = Napi::ArrayBuffer::New(info.Env(), n);
    if (n) std::memcpy(ab.Data(), c.data_ptr(), n);
    return ab;
  });
}

// bytesView(h) -> ArrayBuffer aliasing the tensor's storage (zero-copy; CPU contiguous
// tensors only). The ArrayBuffer keeps the storage alive until it is garbage-collected.
static Napi::Value BytesView(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = tensorOf(handleArg(info[0], "tensor"));
    if (!t.device().is_cpu()) throw ArgError("bytesView: tensor is on " + t.device().str() + "; only CPU tensors can be viewed");
    if (!t.is_contiguous()) throw ArgError("bytesView: tensor is not contiguous");
    size_t n = (size_t)t.numel() * t.element_size();
    if (n == 0) return Napi::ArrayBuffer::New(info.Env(), 0);
    checkArrayBufferBytes("bytesView", n);
    auto* keep = new at::Tensor(t.detach());
    return Napi::ArrayBuffer::New(info.Env(), keep->data_ptr(), n, [](Napi::Env, void*, at::Tensor* k) { delete k; }, keep);
  });
}

static Napi::Value Dispose(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    freeHandle(handleArg(info[0], "tensor"));
    return info.Env().Undefined();
  });
}

// disposeMany(handles: Int32Array): frees many handles in one call (end of a tidy scope).
static Napi::Value DisposeMany(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    if (!info[0].IsTypedArray()) throw ArgError("disposeMany: expected an Int32Array");
    auto ta = info[0].As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_int32_array) throw ArgError("disposeMany: expected an Int32Array");
    auto arr = ta.As<Napi::Int32Array>();
    for (size_t i = 0; i < arr.ElementLength(); i++) freeHandle(arr[i]);
    return info.Env().Undefined();
  });
}

static Napi::Value Live(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), (double)liveHandles()); }

// externalMemory() -> bytes of external memory V8 accounts for this isolate (after flushing
// this context's pending tensor bytes).
static Napi::Value ExternalMemory(const Napi::CallbackInfo& info) {
  flushExternalMemory(info.Env(), true);
  int64_t total = 0;
  napi_adjust_external_memory(info.Env(), 0, &total);
  return Napi::Number::New(info.Env(), (double)total);
}

static Napi::Value Alias(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::Number::New(info.Env(), newHandle(tensorOf(handleArg(info[0], "tensor")))); });
}

static Napi::Value Shape(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = tensorOf(handleArg(info[0], "tensor"));
    auto s = t.sizes();
    Napi::Array a = Napi::Array::New(info.Env(), s.size());
    for (size_t i = 0; i < s.size(); i++) a.Set((uint32_t)i, Napi::Number::New(info.Env(), (double)s[i]));
    return a;
  });
}

static Napi::Value Strides(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = tensorOf(handleArg(info[0], "tensor"));
    auto s = t.strides();
    Napi::Array a = Napi::Array::New(info.Env(), s.size());
    for (size_t i = 0; i < s.size(); i++) a.Set((uint32_t)i, Napi::Number::New(info.Env(), (double)s[i]));
    return a;
  });
}

static Napi::Value DType(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::Number::New(info.Env(), (double)tensorOf(handleArg(info[0], "tensor")).scalar_type()); });
}

static Napi::Value Device(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::String::New(info.Env(), tensorOf(handleArg(info[0], "tensor")).device().str()); });
}

static Napi::Value Item(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = tensorOf(handleArg(info[0], "tensor"));
    if (t.numel() != 1) throw ArgError("item: tensor has " + std::to_string(t.numel()) + " elements, expected 1");
    at::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(info.Env(), (double)s.toLong());
    return Napi::Number::New(info.Env(), s.toDouble());
  });
}

static Napi::Value DataPtr(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = tensorOf(handleArg(info[0], "tensor"));
    return Napi::BigInt::New(info.Env(), (uint64_t)(uintptr_t)t.data_ptr());
  });
}

// isContiguous(h, memoryFormat: 0 contiguous | 2 channels-last | 3 channels-last-3d)
static Napi::Value IsContiguous(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& t = tensorOf(handleArg(info[0], "tensor"));
    int64_t f = info.Length() > 1 ? intArg(info[1], "memoryFormat") : 0;
    if (f != 0 && f != 2 && f != 3) throw ArgError("isContiguous: memory format must be contiguous, channelsLast or channelsLast3d");
    return Napi::Boolean::New(info.Env(), t.is_contiguous((c10::MemoryFormat)f));
  });
}

// ---- autograd ------------------------------------------------------------------------
static Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), tensorOf(handleArg(info[0], "tensor")).requires_grad()); });
}

static Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    at::Tensor t = tensorOf(handleArg(info[0], "tensor"));
    t.set_requires_grad(boolArg(info[1], "requiresGrad"));
    return info.Env().Undefined();
  });
}

static Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), tensorOf(handleArg(info[0], "tensor")).is_leaf()); });
}

// grad(h) -> new handle to h.grad, or null
static Napi::Value Grad(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const at::Tensor& g = tensorOf(handleArg(info[0], "tensor")).grad();
    if (!g.defined()) return info.Env().Null();
    return Napi::Number::New(info.Env(), newHandle(g));
  });
}

// setGrad(h, g | null)
static Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    at::Tensor t = tensorOf(handleArg(info[0], "tensor"));
    if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad() = at::Tensor();
    else t.mutable_grad() = tensorOf(handleArg(info[1], "grad"));
    return info.Env().Undefined();
  });
}

// backward(handles[], grads[] | null, retainGraph, createGraph)
static Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    std::vector<at::Tensor> outs, grads;
    auto a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) outs.push_back(tensorOf(handleArg(a.Get(i), "tensor")));
    if (info[1].IsArray()) {
      auto g = info[1].As<Napi::Array>();
      for (uint32_t i = 0; i < g.Length(); i++) {
        Napi::Value v = g.Get(i);
        grads.push_back(v.IsNull() || v.IsUndefined() ? at::Tensor() : tensorOf(handleArg(v, "grad")));
      }
    }
    c10::optional<bool> retain;
    if (info[2].IsBoolean()) retain = info[2].As<Napi::Boolean>().Value();
    bool create = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
    torch::autograd::backward(outs, grads, retain, create);
    return info.Env().Undefined();
  });
}

static Napi::Value GradEnabled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled()); }

static Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    bool prev = c10::GradMode::is_enabled();
    c10::GradMode::set_enabled(boolArg(info[0], "enabled"));
    return Napi::Boolean::New(info.Env(), prev);
  });
}

// inferenceMode(enter): enter (true) / leave (false) a c10::InferenceMode scope (LIFO).
static thread_local std::vector<std::unique_ptr<c10::InferenceMode>> g_inference;
static Napi::Value InferenceMode(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    if (boolArg(info[0], "enter")) g_inference.push_back(std::make_unique<c10::InferenceMode>(true));
    else if (!g_inference.empty()) g_inference.pop_back();
    return Napi::Boolean::New(info.Env(), c10::InferenceMode::is_enabled());
  });
}

static Napi::Value IsInference(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), tensorOf(handleArg(info[0], "tensor")).is_inference()); });
}

void initTensors(Napi::Env env, Napi::Object exports) {
  auto def = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) { exports.Set(name, Napi::Function::New(env, f, name)); };
  def("fromBytes", FromBytes);
  def("toBytes", ToBytes);
  def("bytesView", BytesView);
  def("dispose", Dispose);
  def("disposeMany", DisposeMany);
  def("live", Live);
  def("externalMemory", ExternalMemory);
  def("alias", Alias);
  def("shape", Shape);
  def("strides", Strides);
  def("dtype", DType);
  def("device", Device);
  def("item", Item);
  def("dataPtr", DataPtr);
  def("isContiguous", IsContiguous);
  def("requiresGrad", RequiresGrad);
  def("setRequiresGrad", SetRequiresGrad);
  def("isLeaf", IsLeaf);
  def("grad", Grad);
  def("setGrad", SetGrad);
  def("backward", Backward);
  def("gradEnabled", GradEnabled);
  def("setGradEnabled", SetGradEnabled);
  def("inferenceMode", InferenceMode);
  def("isInference", IsInference);
}

}  // namespace eflip
