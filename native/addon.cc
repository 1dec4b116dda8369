// eflip_native: a thin N-API addon over libtorch. See docs/engine.md for the JS side.
#include "common.h"

static Napi::Object InitEflip(Napi::Env env, Napi::Object exports) {
  eflip::initDispatch(env, exports);
  eflip::initTensors(env, exports);
  eflip::initRuntime(env, exports);
  return exports;
}

NODE_API_MODULE(eflip_native, InitEflip)
