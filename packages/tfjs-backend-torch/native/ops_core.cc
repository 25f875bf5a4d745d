// Core op families (element-wise, reductions, shape ops) are registered from their own files; this
// file only ties them together so addon.cc has a single entry point for them.
#include "context.h"

namespace tt {
void RegisterElementwise(Napi::Env env, Napi::Object exports);
void RegisterReduce(Napi::Env env, Napi::Object exports);
void RegisterShape(Napi::Env env, Napi::Object exports);

void RegisterCoreOps(Napi::Env env, Napi::Object exports) {
  RegisterElementwise(env, exports);
  RegisterReduce(env, exports);
  RegisterShape(env, exports);
}
}  // namespace tt
