// GPU memory introspection for the CUDA build: what PyTorch's caching allocator holds, and a way
// to hand its unused blocks back to the driver. In a CPU build (or with TT_NO_CUDA_STATS, the
// fallback gpu-check.sh uses if a libtorch version changed these headers) the functions exist but
// report that no GPU allocator is present, so TypeScript needs no build-specific code paths.
#include "context.h"

#if defined(TT_CUDA) && !defined(TT_NO_CUDA_STATS)
#include <c10/cuda/CUDACachingAllocator.h>
#define TT_HAS_CUDA_STATS 1
#endif

namespace tt {

namespace {

// cudaMemory(): null on CPU, else {allocated, reserved, peakAllocated, peakReserved} in bytes.
TT_FN(CudaMemory) {
  Napi::Env env = info.Env();
#ifdef TT_HAS_CUDA_STATS
  if (CurrentDevice().is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(CurrentDevice().index());
    // Index 0 is StatType::AGGREGATE in every libtorch so far; spelling the enum's namespace
    // would tie us to one version (it moved between 1.13 and 2.x).
    Napi::Object o = Napi::Object::New(env);
    o.Set("allocated", static_cast<double>(stats.allocated_bytes[0].current));
    o.Set("reserved", static_cast<double>(stats.reserved_bytes[0].current));
    o.Set("peakAllocated", static_cast<double>(stats.allocated_bytes[0].peak));
    o.Set("peakReserved", static_cast<double>(stats.reserved_bytes[0].peak));
    return o;
  }
#endif
  return env.Null();
}

// emptyCache(): releases cached, unused blocks (GPU on CUDA, plus our CPU block cache where it
// is installed); returns whether there was a cache to empty.
TT_FN(EmptyCache) {
  bool any = EmptyCpuCache();
#ifdef TT_HAS_CUDA_STATS
  if (CurrentDevice().is_cuda()) {
    c10::cuda::CUDACachingAllocator::emptyCache();
    any = true;
  }
#endif
  return Napi::Boolean::New(info.Env(), any);
}

}  // namespace

void RegisterCudaOps(Napi::Env env, Napi::Object exports) {
  TT_EXPORT(exports, env, CudaMemory);
  TT_EXPORT(exports, env, EmptyCache);
}

}  // namespace tt
