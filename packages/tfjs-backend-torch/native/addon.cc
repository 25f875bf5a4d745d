// Addon entry point: sets the intra-op thread count, then lets each op family register its functions.
#include "context.h"

#include <ATen/Parallel.h>

#include <cstdlib>
#include <string>
#include <thread>

namespace tt {
void RegisterDistributed(Napi::Env env, Napi::Object exports);  // distributed.cc (c10d process groups)
}  // namespace tt

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // All cores by default (ATen's own default can be lower inside containers); an explicit
  // TFJS_TORCH_NUM_THREADS wins. Invalid values are ignored rather than aborting the import.
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* s = std::getenv("TFJS_TORCH_NUM_THREADS")) {
    int v = std::atoi(s);
    if (v > 0) threads = v;
  }
  if (threads > 0) at::set_num_threads(threads);
  // fp32 parity with tfjs: no TF32 tensor-core math on Ampere+ GPUs unless asked for
  // (TFJS_TORCH_TF32=1 trades ~1e-3 relative precision for speed). No effect on CPU.
  const char* tf32 = std::getenv("TFJS_TORCH_TF32");
  const bool allowTf32 = tf32 != nullptr && std::string(tf32) == "1";
  at::globalContext().setAllowTF32CuDNN(allowTf32);
  at::globalContext().setAllowTF32CuBLAS(allowTf32);
  if (allowTf32) tt::SetInitialPrecision(tt::kTf32);
  tt::InstallCpuCache();
  tt::RegisterStorage(env, exports);
  tt::RegisterCpuAllocatorOps(env, exports);
  tt::RegisterCoreOps(env, exports);
  tt::RegisterCudaOps(env, exports);
  tt::RegisterDistributed(env, exports);
#ifndef TT_NO_NN_OPS
  tt::RegisterNnOps(env, exports);
  tt::RegisterFusedOps(env, exports);
  tt::RegisterProjectionOps(env, exports);
  exports.Set("hasNnOps", Napi::Boolean::New(env, true));
#else
  exports.Set("hasNnOps", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(tfjs_backend_torch, Init)
