// A caching CPU allocator for ATen (CPU builds on libtorch 1.x).
//
// Why: a training step allocates and frees the same activation-sized buffers every iteration.
// glibc serves blocks above its mmap threshold (32 MiB at most, and ResNet-18's first-stage
// activations at batch 128 are exactly 32 MiB + a header) with fresh mmap()s, so every such
// tensor is page-faulted in and zeroed by the kernel again: measured 7.5 s of system time in an
// 11 s ResNet-18 step at batch 128 on 2 cores. Keeping freed large blocks and handing them back
// for the next request of (about) the same size removes that work; shapes repeat exactly from one
// step to the next, so nearly every request is a hit after the first step.
//
// Blocks below kMinCached go straight to c10::alloc_cpu (glibc recycles those without syscalls).
// The cache is bounded (TFJS_TORCH_CPU_CACHE_MB, default min(4 GiB, RAM/4); 0 turns the allocator
// off) and emptied on demand (emptyCache) or when an allocation fails.
//
// Not built for CUDA builds (device tensors use PyTorch's own caching allocator) or libtorch 2.x,
// whose Allocator interface changed (allocate() lost its const, copy_data() became required).
#include "context.h"

#include <torch/version.h>

#if !defined(TT_CUDA) && TORCH_VERSION_MAJOR < 2
#define TT_CPU_CACHE 1
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>
#endif

namespace tt {

#ifdef TT_CPU_CACHE
namespace {

constexpr size_t kMinCached = 256 * 1024;
constexpr size_t kGranule = 64 * 1024;  // sizes are rounded up to this, so near sizes share blocks

struct CacheState {
  std::mutex mu;
  std::multimap<size_t, void*> free;       // cached blocks by size
  std::unordered_map<void*, size_t> live;  // blocks handed out, with their rounded size
  size_t cachedBytes = 0;
  size_t limitBytes = 0;
  double hits = 0, misses = 0;
};

// Leaked on purpose: tensors freed during process teardown must still find it.
CacheState* g_cache = new CacheState();

void FreeAllCachedLocked(CacheState& c) {
  for (auto& kv : c.free) c10::free_cpu(kv.second);
  c.free.clear();
  c.cachedBytes = 0;
}

void Release(void* p) {
  if (p == nullptr) return;
  CacheState& c = *g_cache;
  std::unique_lock<std::mutex> lock(c.mu);
  auto it = c.live.find(p);
  if (it == c.live.end()) {  // a small block
    lock.unlock();
    c10::free_cpu(p);
    return;
  }
  const size_t size = it->second;
  c.live.erase(it);
  if (c.cachedBytes + size <= c.limitBytes) {
    c.free.emplace(size, p);
    c.cachedBytes += size;
    return;
  }
  lock.unlock();
  c10::free_cpu(p);
}

void* Acquire(size_t n) {
  if (n < kMinCached) return c10::alloc_cpu(n);
  const size_t size = (n + kGranule - 1) / kGranule * kGranule;
  CacheState& c = *g_cache;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    // Best fit, accepting at most 1/8 slack so a small request never pins a huge block.
    auto it = c.free.lower_bound(size);
    if (it != c.free.end() && it->first <= size + size / 8) {
      void* p = it->second;
      const size_t got = it->first;
      c.free.erase(it);
      c.cachedBytes -= got;
      c.live.emplace(p, got);
      c.hits++;
      return p;
    }
    c.misses++;
  }
  void* p = nullptr;
  try {
    p = c10::alloc_cpu(size);
  } catch (const c10::Error&) {
    // Out of memory: give every cached block back and try once more.
    {
      std::lock_guard<std::mutex> lock(c.mu);
      FreeAllCachedLocked(c);
    }
    p = c10::alloc_cpu(size);
  }
  std::lock_guard<std::mutex> lock(c.mu);
  c.live.emplace(p, size);
  return p;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    void* p = Acquire(n);
    return {p, p, &Release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Release; }
};

size_t DefaultLimitBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
  const size_t ram = pages > 0 && pageSize > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(pageSize) : 0;
  const size_t fourGiB = size_t{4} << 30;
  return ram > 0 ? std::min(fourGiB, ram / 4) : fourGiB;
}

bool g_installed = false;

}  // namespace
#endif  // TT_CPU_CACHE

void InstallCpuCache() {
#ifdef TT_CPU_CACHE
  size_t limit = DefaultLimitBytes();
  if (const char* s = std::getenv("TFJS_TORCH_CPU_CACHE_MB")) {
    char* end = nullptr;
    const long long mb = std::strtoll(s, &end, 10);
    if (end != s && mb >= 0) limit = static_cast<size_t>(mb) << 20;
  }
  if (limit == 0) return;
  g_cache->limitBytes = limit;
  static CachingCpuAllocator* allocator = new CachingCpuAllocator();  // owned by c10 from here on
  c10::SetCPUAllocator(allocator, /*priority=*/1);
  g_installed = true;
#endif
}

bool EmptyCpuCache() {
#ifdef TT_CPU_CACHE
  if (!g_installed) return false;
  std::lock_guard<std::mutex> lock(g_cache->mu);
  FreeAllCachedLocked(*g_cache);
  return true;
#else
  return false;
#endif
}

namespace {

// cpuCacheStats(): null when the allocator is not installed, else its counters.
TT_FN(CpuCacheStats) {
  Napi::Env env = info.Env();
#ifdef TT_CPU_CACHE
  if (g_installed) {
    std::lock_guard<std::mutex> lock(g_cache->mu);
    Napi::Object o = Napi::Object::New(env);
    o.Set("cachedBytes", static_cast<double>(g_cache->cachedBytes));
    o.Set("limitBytes", static_cast<double>(g_cache->limitBytes));
    o.Set("liveBlocks", static_cast<double>(g_cache->live.size()));
    o.Set("hits", g_cache->hits);
    o.Set("misses", g_cache->misses);
    return o;
  }
#endif
  return env.Null();
}

}  // namespace

void RegisterCpuAllocatorOps(Napi::Env env, Napi::Object exports) {
  TT_EXPORT(exports, env, CpuCacheStats);
}

}  // namespace tt
