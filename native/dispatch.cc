// Generic op calls through the c10 dispatcher (the path TorchScript uses, so autograd and
// autocast apply). JS resolves "aten::name.overload" once to an integer op id; each call
// converts the JS arguments by the op's schema into IValues, calls the boxed kernel and
// converts the results back (tensors become new handles).
#include "common.h"
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>
#include <ATen/core/stack.h>

namespace eflip {

enum class Kind { Tensor, TensorList, OptTensorList, Int, IntList, Float, FloatList, Bool, BoolList, Scalar, String, Device, Generator, Other };

struct ArgSpec {
  std::string name;
  Kind kind;
  bool optional;
  bool hasDefault;
  c10::IValue dflt;
  bool isDtype = false;  // a ScalarType argument (kind Int)
};

// Unboxed fast paths for the most frequent schema shapes (skips IValue boxing; the same
// kernels run). T = Tensor, S = Scalar; a trailing _ marks in-place (self is Tensor(a!)).
// TD: (Tensor, ScalarType? dtype); TTO: (Tensor, Tensor, Tensor?) e.g. linear
enum class Fast { None, T, TT, TS, TTS, TSS, TD, TTO, T_, TT_, TS_, TTS_ };

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;
  std::vector<ArgSpec> args;
  size_t nReturns;
  Fast fast = Fast::None;
};

static thread_local std::vector<OpEntry> g_ops;  // per JS context, like the handle table

static Kind kindOf(const c10::TypePtr& t) {
  switch (t->kind()) {
    case c10::TypeKind::TensorType: return Kind::Tensor;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType: return Kind::Int;
    case c10::TypeKind::FloatType: return Kind::Float;
    case c10::TypeKind::BoolType: return Kind::Bool;
    case c10::TypeKind::NumberType: return Kind::Scalar;
    case c10::TypeKind::StringType: return Kind::String;
    case c10::TypeKind::DeviceObjType: return Kind::Device;
    case c10::TypeKind::GeneratorType: return Kind::Generator;
    case c10::TypeKind::ListType: {
      auto elem = t->containedTypes()[0];
      if (elem->kind() == c10::TypeKind::OptionalType && elem->containedTypes()[0]->kind() == c10::TypeKind::TensorType) return Kind::OptTensorList;
      switch (kindOf(elem)) {
        case Kind::Tensor: return Kind::TensorList;
        case Kind::Int: return Kind::IntList;
        case Kind::Float: return Kind::FloatList;
        case Kind::Bool: return Kind::BoolList;
        default: return Kind::Other;
      }
    }
    default: return Kind::Other;
  }
}

static Fast fastKind(const OpEntry& e, const c10::FunctionSchema& schema) {
  if (schema.returns().size() != 1 || schema.returns()[0].type()->kind() != c10::TypeKind::TensorType) return Fast::None;
  std::string sig;
  if (e.args.size() == 2 && e.args[0].kind == Kind::Tensor && !e.args[0].optional && e.args[1].optional && e.args[1].isDtype) sig = "TD";
  else if (e.args.size() == 3 && e.args[0].kind == Kind::Tensor && !e.args[0].optional && e.args[1].kind == Kind::Tensor && !e.args[1].optional &&
           e.args[2].kind == Kind::Tensor && e.args[2].optional) sig = "TTO";
  else for (const auto& a : e.args) {
    if (a.optional) return Fast::None;
    if (a.kind == Kind::Tensor) sig += 'T';
    else if (a.kind == Kind::Scalar) sig += 'S';
    else return Fast::None;
  }
  const c10::AliasInfo* alias = schema.arguments().empty() ? nullptr : schema.arguments()[0].alias_info();
  bool inplace = alias && alias->isWrite();
  Fast f = Fast::None;
  if (sig == "T") f = inplace ? Fast::T_ : Fast::T;
  else if (sig == "TT") f = inplace ? Fast::TT_ : Fast::TT;
  else if (sig == "TS") f = inplace ? Fast::TS_ : Fast::TS;
  else if (sig == "TTS") f = inplace ? Fast::TTS_ : Fast::TTS;
  else if (sig == "TSS" && !inplace) f = Fast::TSS;
  else if (sig == "TD" && !inplace) f = Fast::TD;
  else if (sig == "TTO" && !inplace) f = Fast::TTO;
  // The typed entry must match the C++ signature the kernels were registered with; when it
  // does not (other libtorch versions), the op simply stays on the boxed path.
  try {
    const auto& h = e.handle;
    switch (f) {
      case Fast::T: h.typed<at::Tensor(const at::Tensor&)>(); break;
      case Fast::TT: h.typed<at::Tensor(const at::Tensor&, const at::Tensor&)>(); break;
      case Fast::TS: h.typed<at::Tensor(const at::Tensor&, const at::Scalar&)>(); break;
      case Fast::TTS: h.typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Scalar&)>(); break;
      case Fast::TSS: h.typed<at::Tensor(const at::Tensor&, const at::Scalar&, const at::Scalar&)>(); break;
      case Fast::TD: h.typed<at::Tensor(const at::Tensor&, c10::optional<at::ScalarType>)>(); break;
      case Fast::TTO: h.typed<at::Tensor(const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&)>(); break;
      case Fast::T_: h.typed<at::Tensor&(at::Tensor&)>(); break;
      case Fast::TT_: h.typed<at::Tensor&(at::Tensor&, const at::Tensor&)>(); break;
      case Fast::TS_: h.typed<at::Tensor&(at::Tensor&, const at::Scalar&)>(); break;
      case Fast::TTS_: h.typed<at::Tensor&(at::Tensor&, const at::Tensor&, const at::Scalar&)>(); break;
      default: break;
    }
  } catch (const std::exception&) {
    return Fast::None;
  }
  return f;
}

// opId(qualifiedName: "aten::conv3d", overload: "") -> id
static Napi::Value OpId(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    auto op = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!op.has_value()) return info.Env().Null();
    const c10::FunctionSchema& schema = op->schema();
    OpEntry e{*op, name + (overload.empty() ? "" : "." + overload), {}, schema.returns().size()};
    for (const auto& a : schema.arguments()) {
      c10::TypePtr t = a.type();
      bool optional = false;
      if (t->kind() == c10::TypeKind::OptionalType) {
        optional = true;
        t = t->containedTypes()[0];
      }
      ArgSpec s{a.name(), kindOf(t), optional, a.default_value().has_value(), a.default_value().has_value() ? *a.default_value() : c10::IValue()};
      s.isDtype = t->kind() == c10::TypeKind::ScalarTypeType;
      e.args.push_back(std::move(s));
    }
    e.fast = fastKind(e, schema);
    g_ops.push_back(std::move(e));
    return Napi::Number::New(info.Env(), (double)(g_ops.size() - 1));
  });
}

static at::Scalar scalarFromDouble(double d);

static std::string where(const OpEntry& op, const ArgSpec& a) { return op.name + " argument '" + a.name + "'"; }

static c10::IValue toIValue(const OpEntry& op, const ArgSpec& a, const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) {
    if (v.IsUndefined() && a.hasDefault) return a.dflt;
    if (a.optional) return c10::IValue();
    if (a.hasDefault) return a.dflt;
    throw ArgError(where(op, a) + " is required");
  }
  switch (a.kind) {
    case Kind::Tensor: return tensorOf(handleArg(v, a.name.c_str()));
    case Kind::Int: return intArg(v, a.name.c_str());
    case Kind::Float: return numberArg(v, a.name.c_str());
    case Kind::Bool: return boolArg(v, a.name.c_str());
    case Kind::Scalar: {
      if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
      // Integral JS numbers become int Scalars (keeps integer tensors integral).
      return c10::IValue(scalarFromDouble(numberArg(v, a.name.c_str())));
    }
    case Kind::IntList: return c10::IValue(intListArg(v, a.name.c_str()));
    case Kind::FloatList: {
      std::vector<double> out;
      if (v.IsNumber()) out.push_back(v.As<Napi::Number>().DoubleValue());
      else {
        if (!v.IsArray()) throw ArgError(where(op, a) + ": expected an array of numbers");
        auto arr = v.As<Napi::Array>();
        for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(numberArg(arr.Get(i), a.name.c_str()));
      }
      return c10::IValue(out);
    }
    case Kind::BoolList: {
      if (!v.IsArray()) throw ArgError(where(op, a) + ": expected an array of booleans");
      auto arr = v.As<Napi::Array>();
      c10::List<bool> out;
      for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(boolArg(arr.Get(i), a.name.c_str()));
      return c10::IValue(out);
    }
    case Kind::TensorList: {
      if (!v.IsArray()) throw ArgError(where(op, a) + ": expected an array of tensors");
      auto arr = v.As<Napi::Array>();
      std::vector<at::Tensor> out;
      out.reserve(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(tensorOf(handleArg(arr.Get(i), a.name.c_str())));
      return c10::IValue(out);
    }
    case Kind::OptTensorList: {
      if (!v.IsArray()) throw ArgError(where(op, a) + ": expected an array of tensors or nulls");
      auto arr = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < arr.Length(); i++) {
        Napi::Value e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
        else out.push_back(tensorOf(handleArg(e, a.name.c_str())));
      }
      return c10::IValue(out);
    }
    case Kind::String:
      if (!v.IsString()) throw ArgError(where(op, a) + ": expected a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case Kind::Device:
      if (!v.IsString()) throw ArgError(where(op, a) + ": expected a device string");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case Kind::Generator: throw ArgError(where(op, a) + ": generators are not supported (use manualSeed)");
    default: throw ArgError(where(op, a) + ": argument type not supported by the eflip binding");
  }
}

static Napi::Value toJs(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return env.Null();
    return Napi::Number::New(env, newHandle(t));
  }
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, (double)v.toInt());
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array a = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) a.Set((uint32_t)i, toJs(env, elems[i]));
    return a;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) a.Set((uint32_t)i, toJs(env, list[i]));
    return a;
  }
  throw ArgError(std::string("cannot return a value of type ") + v.tagKind() + " to JS");
}

static thread_local torch::jit::Stack g_stack;

static at::Scalar scalarFromDouble(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15) return at::Scalar((int64_t)d);
  return at::Scalar(d);
}

// Runs an op through its typed (unboxed) entry when the call matches a fast shape exactly.
// Returns false when the generic boxed path must be used. Reads arguments with the raw N-API
// getters (one call each; a type mismatch just selects the generic path).
static bool callFast(const OpEntry& op, const Napi::CallbackInfo& info, at::Tensor* out) {
  size_t n = info.Length() - 1;
  if (n != op.args.size() || n > 3) return false;
  napi_env env = info.Env();
  const at::Tensor* t[3] = {nullptr, nullptr, nullptr};
  at::Scalar sc[3];
  if (op.fast == Fast::TD) {
    int32_t id;
    if (napi_get_value_int32(env, info[1], &id) != napi_ok) return false;
    c10::optional<at::ScalarType> dt;
    napi_valuetype vt;
    napi_typeof(env, info[2], &vt);
    if (vt == napi_number) dt = (at::ScalarType)info[2].As<Napi::Number>().Int32Value();
    else if (vt != napi_null && vt != napi_undefined) return false;
    *out = op.handle.typed<at::Tensor(const at::Tensor&, c10::optional<at::ScalarType>)>().call(tensorOf(id), dt);
    return true;
  }
  if (op.fast == Fast::TTO) {
    int32_t a, b, c;
    if (napi_get_value_int32(env, info[1], &a) != napi_ok || napi_get_value_int32(env, info[2], &b) != napi_ok) return false;
    c10::optional<at::Tensor> bias;
    if (napi_get_value_int32(env, info[3], &c) == napi_ok) bias = tensorOf(c);
    else {
      napi_valuetype vt;
      napi_typeof(env, info[3], &vt);
      if (vt != napi_null && vt != napi_undefined) return false;
    }
    *out = op.handle.typed<at::Tensor(const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&)>().call(tensorOf(a), tensorOf(b), bias);
    return true;
  }
  for (size_t i = 0; i < n; i++) {
    napi_value v = info[i + 1];
    if (op.args[i].kind == Kind::Tensor) {
      int32_t id;
      if (napi_get_value_int32(env, v, &id) != napi_ok) return false;
      t[i] = &tensorOf(id);
    } else {
      double d;
      if (napi_get_value_double(env, v, &d) == napi_ok) sc[i] = scalarFromDouble(d);
      else {
        bool b;
        if (napi_get_value_bool(env, v, &b) != napi_ok) return false;
        sc[i] = at::Scalar(b);
      }
    }
  }
  auto T = [&](size_t i) -> const at::Tensor& { return *t[i]; };
  auto M = [&](size_t i) -> at::Tensor& { return const_cast<at::Tensor&>(*t[i]); };
  auto S = [&](size_t i) -> const at::Scalar& { return sc[i]; };
  const auto& h = op.handle;
  switch (op.fast) {
    case Fast::T: *out = h.typed<at::Tensor(const at::Tensor&)>().call(T(0)); return true;
    case Fast::TT: *out = h.typed<at::Tensor(const at::Tensor&, const at::Tensor&)>().call(T(0), T(1)); return true;
    case Fast::TS: *out = h.typed<at::Tensor(const at::Tensor&, const at::Scalar&)>().call(T(0), S(1)); return true;
    case Fast::TTS: *out = h.typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Scalar&)>().call(T(0), T(1), S(2)); return true;
    case Fast::TSS: *out = h.typed<at::Tensor(const at::Tensor&, const at::Scalar&, const at::Scalar&)>().call(T(0), S(1), S(2)); return true;
    case Fast::T_: h.typed<at::Tensor&(at::Tensor&)>().call(M(0)); return true;
    case Fast::TT_: h.typed<at::Tensor&(at::Tensor&, const at::Tensor&)>().call(M(0), T(1)); return true;
    case Fast::TS_: h.typed<at::Tensor&(at::Tensor&, const at::Scalar&)>().call(M(0), S(1)); return true;
    case Fast::TTS_: h.typed<at::Tensor&(at::Tensor&, const at::Tensor&, const at::Scalar&)>().call(M(0), T(1), S(2)); return true;
    default: return false;
  }
}

static const OpEntry& opOf(const Napi::CallbackInfo& info) {
  int32_t id;
  if (napi_get_value_int32(info.Env(), info[0], &id) != napi_ok) throw ArgError("op id expected");
  if (id < 0 || (size_t)id >= g_ops.size()) throw ArgError("operator not available in the linked libtorch (op id " + std::to_string(info[0].As<Napi::Number>().Int64Value()) + ")");
  return g_ops[id];
}

static void prepare(const OpEntry& op, const Napi::CallbackInfo& info) {
  size_t given = info.Length() - 1;
  if (given > op.args.size()) throw ArgError(op.name + ": too many arguments");
  g_stack.clear();
  try {
    for (size_t i = 0; i < op.args.size(); i++) {
      g_stack.push_back(i < given ? toIValue(op, op.args[i], info[i + 1]) : toIValue(op, op.args[i], info.Env().Undefined()));
    }
  } catch (...) {
    g_stack.clear();
    throw;
  }
}

// Boxed call; on failure the stack is cleared so it holds no tensor references.
static void callBoxed(const OpEntry& op) {
  try {
    op.handle.callBoxed(&g_stack);
  } catch (...) {
    g_stack.clear();
    throw;
  }
}

// call(opId, ...args) -> result (tensor handle, number, boolean, null or an array of them)
static Napi::Value Call(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const OpEntry& op = opOf(info);
    Napi::Env env = info.Env();
    if (op.fast != Fast::None && op.fast < Fast::T_) {
      at::Tensor out;
      if (callFast(op, info, &out)) {
        Napi::Value r = Napi::Number::New(env, newHandle(std::move(out)));
        flushExternalMemory(env);
        return r;
      }
    }
    prepare(op, info);
    callBoxed(op);
    Napi::Value out;
    if (g_stack.size() == 1) out = toJs(env, g_stack[0]);
    else if (g_stack.empty()) out = env.Undefined();
    else {
      Napi::Array a = Napi::Array::New(env, g_stack.size());
      for (size_t i = 0; i < g_stack.size(); i++) a.Set((uint32_t)i, toJs(env, g_stack[i]));
      out = a;
    }
    g_stack.clear();
    flushExternalMemory(env);
    return out;
  });
}

// callVoid(opId, ...args): in-place ops; results are dropped (no new handles).
static Napi::Value CallVoid(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const OpEntry& op = opOf(info);
    at::Tensor unused;
    if (op.fast >= Fast::T_ && callFast(op, info, &unused)) return info.Env().Undefined();
    prepare(op, info);
    callBoxed(op);
    g_stack.clear();
    return info.Env().Undefined();
  });
}

// schema(opId) -> string (for error messages and docs)
static Napi::Value Schema(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    if (id >= g_ops.size()) throw ArgError("unknown op id");
    std::ostringstream s;
    s << g_ops[id].handle.schema();
    return Napi::String::New(info.Env(), s.str());
  });
}

void releaseDispatch() {
  g_stack.clear();
  g_ops.clear();
}

void initDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("opId", Napi::Function::New(env, OpId, "opId"));
  exports.Set("call", Napi::Function::New(env, Call, "call"));
  exports.Set("callVoid", Napi::Function::New(env, CallVoid, "callVoid"));
  exports.Set("schema", Napi::Function::New(env, Schema, "schema"));
}

}  // namespace eflip
