// Small products on one thread (context.h SerialIfSmall). docs/engine-speed.md, "Small kernels".
//
// oneDNN convolutions and OpenBLAS products split every call across the OpenMP team, however
// small. With OMP_WAIT_POLICY=PASSIVE (which the engine sets, since spinning threads make a shared
// 2-core machine several times slower) each such call wakes the sleeping worker, which costs more
// than the arithmetic of a convolution over a few 28x28 images: Square's and APGD-T's queries on
// the last few robust points spent most of their time there. Below a work threshold the call runs
// with a team of one instead. ATen's element-wise kernels already stay serial below their grain.
//
// The OpenMP functions are looked up at run time in whatever OpenMP runtime libtorch loaded (a
// PyTorch wheel bundles its own libgomp), rather than linking one: two runtimes in a process
// would each keep their own team.
#include "context.h"

#include <dlfcn.h>

#include <cstdlib>

namespace tt {
namespace {

using SetThreads = void (*)(int);
using GetThreads = int (*)();

struct Omp {
  SetThreads set = nullptr;
  GetThreads get = nullptr;
  double threshold = 4e6;  // FLOPs; TFJS_TORCH_SERIAL_FLOPS overrides (0 turns the rule off)
  Omp() {
    set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
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

}  // namespace tt
