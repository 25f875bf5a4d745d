// Small products on one thread (context.h SerialIfSmall). docs/engine-speed.md, "Small kernels".
//
// oneDNN convolutions and OpenBLAS products split every call across the OpenMP team, however
// small. With OMP_WAIT_POLICY=PASSIVE (which the engine sets, since spinning threads make a shared
// 2-core machine several times slower) each such call wakes the sleeping worker, which costs more
// than the arithmetic of a convolution over a few 28x28 images: Square's and APGD-T's queries on
// the last few robust points spent most of their time there. Below a work threshold the call runs
// with a team of one instead. ATen's element-wise kernels already stay serial below their grain.
//
// ParallelRange (below) is the addon's own parallel loop: its copy and per-row loops (Concat,
// Split, the batched gather, Square's accept step, FAB's projection) run on the same team.
//
// The OpenMP functions are looked up at run time in whatever OpenMP runtime libtorch loaded (a
// PyTorch wheel bundles its own libgomp), rather than linking one: two runtimes in a process
// would each keep their own team.
#include "context.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>

namespace tt {
namespace {

using SetThreads = void (*)(int);
using GetThreads = int (*)();
using GompParallel = void (*)(void (*)(void*), void*, unsigned, unsigned);
using InParallel = int (*)();

struct Omp {
  SetThreads set = nullptr;
  GetThreads get = nullptr;
  GompParallel parallel = nullptr;  // what `#pragma omp parallel` compiles to (libgomp's ABI)
  GetThreads threadNum = nullptr, teamSize = nullptr;
  InParallel inParallel = nullptr;
  double threshold = 4e6;  // FLOPs; TFJS_TORCH_SERIAL_FLOPS overrides (0 turns the rule off)
  Omp() {
    set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
    parallel = reinterpret_cast<GompParallel>(dlsym(RTLD_DEFAULT, "GOMP_parallel"));
    threadNum = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "omp_get_thread_num"));
    teamSize = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "omp_get_num_threads"));
    inParallel = reinterpret_cast<InParallel>(dlsym(RTLD_DEFAULT, "omp_in_parallel"));
    // TFJS_TORCH_PARALLEL_RANGE=0 at load keeps ParallelRange serial (benchmarks compare both).
    if (const char* v = std::getenv("TFJS_TORCH_PARALLEL_RANGE"); v != nullptr && std::strcmp(v, "0") == 0) parallel = nullptr;
    if (const char* v = std::getenv("TFJS_TORCH_SERIAL_FLOPS")) threshold = std::atof(v);
  }
};

Omp& TheOmp() {
  static Omp omp;
  return omp;
}

}  // namespace

SerialIfSmall::SerialIfSmall(double flops) {
  Omp& omp = TheOmp();
  if (omp.set == nullptr || omp.get == nullptr || !(flops < omp.threshold) || !CurrentDevice().is_cpu()) return;
  const int n = omp.get();
  if (n <= 1) return;
  omp.set(1);
  restore_ = n;
}

SerialIfSmall::~SerialIfSmall() {
  if (restore_ > 0) TheOmp().set(restore_);
}

double SerialFlopsThreshold() { return TheOmp().threshold; }

namespace {

std::atomic<int64_t> g_parallelRanges{0};

struct RangeJob {
  int64_t begin, end;
  const std::function<void(int64_t, int64_t)>* fn;
  std::exception_ptr error;
  std::mutex errorMu;
};

// Runs on every thread of the team: thread t of T takes the t-th of T equal slices of the range
// (in order, so each thread's slice is contiguous, as ATen's OpenMP parallel_for splits it).
void RunSlice(void* data) {
  RangeJob& job = *static_cast<RangeJob*>(data);
  Omp& omp = TheOmp();
  const int64_t t = omp.threadNum(), T = std::max(1, omp.teamSize());
  const int64_t n = job.end - job.begin;
  const int64_t chunk = (n + T - 1) / T;
  const int64_t b = job.begin + t * chunk, e = std::min(job.end, b + chunk);
  if (b >= e) return;
  try {
    (*job.fn)(b, e);
  } catch (...) {  // an exception must not cross the OpenMP runtime
    std::lock_guard<std::mutex> lock(job.errorMu);
    if (!job.error) job.error = std::current_exception();
  }
}

}  // namespace

int64_t ParallelRangeCount() { return g_parallelRanges.load(std::memory_order_relaxed); }

void ParallelRange(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (begin >= end) return;
  Omp& omp = TheOmp();
  const int64_t n = end - begin;
  const bool usable = omp.parallel != nullptr && omp.threadNum != nullptr && omp.teamSize != nullptr && omp.get != nullptr &&
                      omp.inParallel != nullptr;
  const int maxThreads = usable ? omp.get() : 1;
  if (!usable || maxThreads <= 1 || n <= std::max<int64_t>(grain, 1) || omp.inParallel() != 0) {
    fn(begin, end);
    return;
  }
  // No more threads than grains, so each slice is worth waking a thread for.
  const int64_t threads = std::min<int64_t>(maxThreads, (n + grain - 1) / std::max<int64_t>(grain, 1));
  RangeJob job{begin, end, &fn, nullptr, {}};
  g_parallelRanges.fetch_add(1, std::memory_order_relaxed);
  omp.parallel(&RunSlice, &job, static_cast<unsigned>(threads), 0);
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace tt
