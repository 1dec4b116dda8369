// eflip_native: a thin N-API addon over libtorch. See docs/engine.md for the JS side.
#include "common.h"

namespace eflip {
void initForeach(Napi::Env env, Napi::Object exports);  // native/foreach.cc: multi-tensor optimizer steps
void initSiluBf16(Napi::Env env, Napi::Object exports);  // native/silu_bf16.cc: bfloat16 SiLU in float32 blocks
}

static void releaseContext(void*) {
  eflip::releaseDispatch();
  eflip::releaseHandles();
}

static Napi::Object InitEflip(Napi::Env env, Napi::Object exports) {
  napi_add_env_cleanup_hook(env, releaseContext, nullptr);
  eflip::initDispatch(env, exports);
  eflip::initTensors(env, exports);
  eflip::initRuntime(env, exports);
  eflip::initDistributed(env, exports);
  eflip::initStreams(env, exports);
  eflip::initForeach(env, exports);
  eflip::initSiluBf16(env, exports);
  return exports;
}

NODE_API_MODULE(eflip_native, InitEflip)
