// Shared native context for the tfjs-backend-torch addon: the handle table that owns every ATen
// tensor tfjs knows about, argument helpers, and the error guard that turns C++ exceptions into JS
// errors (an exception escaping into N-API would abort the process).
//
// Invariant: every tensor in the table is contiguous in tfjs's logical (row-major, NHWC) layout,
// so kernels may build NCHW *views* with permute() when ATen wants them, with one exception:
// convolution filter gradients and the optimizer updates made from them keep the dense layout the
// convolution computed them in (OIHW or OHWI memory under an HWIO shape, engine-speed.md), so a
// trained filter needs no reordering per step. Such a tensor is a permutation of a contiguous one
// that owns its whole storage; reads (toTyped) make a contiguous copy, ATen ops accept any strides.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tt {

// dtype codes shared with TypeScript (src/native.ts): keep in sync.
enum DtypeCode : int32_t { kFloat32 = 0, kInt32 = 1, kBool = 2 };

at::ScalarType ToScalarType(int32_t code);
int32_t ToDtypeCode(at::ScalarType t);  // float32/int32/bool only; others throw

// Arithmetic precision of convolutions and matrix products (setPrecision from JS, storage.cc):
// kFp32 strict float32; kTf32 allows TF32 tensor-core math on GPUs (no effect on CPU); kBf16 runs
// them on bfloat16 copies of their float32 operands and returns float32 (inputs, weights and
// everything else stay float32: the "master" copies). Everything else is always float32.
enum Precision : int32_t { kFp32 = 0, kTf32 = 1, kBf16 = 2 };
int32_t CurrentPrecision();
void SetInitialPrecision(int32_t code);  // at load (TFJS_TORCH_TF32=1)
// The operand to give a conv/matmul under the current precision (a bf16 copy of a float32 one
// in kBf16, else `t` itself), and a result back in float32.
inline at::Tensor LowPrecisionOperand(const at::Tensor& t) {
  return CurrentPrecision() == kBf16 && t.defined() && t.scalar_type() == at::kFloat ? t.to(at::kBFloat16) : t;
}
inline at::Tensor AsFloat32Result(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 ? t.to(at::kFloat) : t;
}

// Handle table (defined in storage.cc). Handles are small non-negative ints, reused after Free.
// Stores `t` and returns its handle; makes it contiguous unless `keepDenseLayout` and `t` is a
// permuted tensor owning its whole storage (see the invariant above).
int32_t Put(at::Tensor t, bool keepDenseLayout = false);
const at::Tensor& Get(int32_t h);    // throws std::runtime_error on an unknown handle
void Free(int32_t h);
int64_t Count();                     // live handles
at::Device CurrentDevice();          // kCPU, or kCUDA in a CUDA build with TFJS_TORCH_DEVICE=cuda
// A tensor derived from handle h's (e.g. a conv weight in the layout ATen wants), made by `make`
// on first request and kept with the slot until the handle is freed. Tensors never change in
// place, so the derivation stays valid; `kind` tells derivations of one handle apart.
at::Tensor DerivedOf(int32_t h, int32_t kind, const std::function<at::Tensor()>& make);

// Argument helpers.
inline const at::Tensor& TensorArg(const Napi::CallbackInfo& info, size_t i) {
  return Get(info[i].As<Napi::Number>().Int32Value());
}
inline int64_t IntArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int64Value();
}
inline double DoubleArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().DoubleValue();
}
inline bool BoolArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Boolean>().Value();
}
// A JS number[] or Int32Array as int64s.
std::vector<int64_t> IntListArg(const Napi::CallbackInfo& info, size_t i);
// A JS number[] of handles as tensors.
std::vector<at::Tensor> TensorListArg(const Napi::CallbackInfo& info, size_t i);

// Stores `t` and returns what TypeScript needs to build a TensorInfo:
// an Int32Array [handle, dtypeCode, rank, dim0, dim1, ...].
Napi::Value ReturnTensor(Napi::Env env, at::Tensor t, bool keepDenseLayout = false);
// Several outputs: a JS array of the above.
Napi::Value ReturnTensors(Napi::Env env, const std::vector<at::Tensor>& ts, bool keepDenseLayout = false);

// Registration entry points, one per ops_*.cc family; called from addon.cc's Init.
void RegisterStorage(Napi::Env env, Napi::Object exports);
void RegisterCoreOps(Napi::Env env, Napi::Object exports);  // elementwise, reductions, shape ops
void RegisterNnOps(Napi::Env env, Napi::Object exports);    // conv, pool, batch norm, matmul, resize
void RegisterCudaOps(Napi::Env env, Napi::Object exports);  // GPU allocator stats (no-ops on CPU)
void RegisterCpuAllocatorOps(Napi::Env env, Napi::Object exports);
void RegisterFusedOps(Napi::Env env, Napi::Object exports);   // fused training/attack steps (ops_fused.cc)
void RegisterProjectionOps(Napi::Env env, Napi::Object exports);  // FAB's L-inf box projection (ops_projection.cc)

// Runs the enclosing scope's kernels on one OpenMP thread when `flops` is below the threshold
// (threads.cc: waking the team costs more than a small convolution or product computes).
class SerialIfSmall {
 public:
  explicit SerialIfSmall(double flops);
  ~SerialIfSmall();
  SerialIfSmall(const SerialIfSmall&) = delete;
  SerialIfSmall& operator=(const SerialIfSmall&) = delete;

 private:
  int restore_ = 0;
};
double SerialFlopsThreshold();

// fn(b, e) over [begin, end) split into contiguous slices across the OpenMP team libtorch uses,
// at most one slice per `grain` items; serial when the team is one thread, inside a parallel
// region, or when no OpenMP runtime is loaded. (ATen's at::parallel_for is an inline template whose
// `#pragma omp parallel` needs -fopenmp; the addon calls the loaded runtime instead, so it never
// links a second one.) Exceptions from fn are rethrown on the calling thread.
void ParallelRange(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);
int64_t ParallelRangeCount();  // calls handed to a team of two or more (tests check the path is taken)

// The caching CPU allocator (cpu_allocator.cc): installed once at load; no-ops where not built.
void InstallCpuCache();
bool EmptyCpuCache();  // frees every cached block; false when the allocator is not installed

}  // namespace tt

// Defines an exported native function. The body runs inside the error guard: C++ exceptions
// (c10::Error from ATen, std::exception from our checks) become JS errors with a "torch: " prefix,
// since an exception escaping into N-API would abort the process. Napi errors pass through as thrown.
//   TT_FN(NnConv2d) { ...; return ReturnTensor(info.Env(), y); }
#define TT_FN(name)                                                          \
  static Napi::Value name##Body(const Napi::CallbackInfo& info);             \
  static Napi::Value name(const Napi::CallbackInfo& info) {                  \
    try {                                                                    \
      return name##Body(info);                                               \
    } catch (const Napi::Error&) {                                           \
      throw;                                                                 \
    } catch (const c10::Error& e) {                                          \
      throw Napi::Error::New(info.Env(), std::string("torch: ") + e.what_without_backtrace()); \
    } catch (const std::exception& e) {                                      \
      throw Napi::Error::New(info.Env(), std::string("torch: ") + e.what()); \
    }                                                                        \
  }                                                                          \
  static Napi::Value name##Body(const Napi::CallbackInfo& info)

// The guard used to be written by hand in every function; TT_FN does it now. These stay as
// no-ops so native files written against the old convention still compile.
#define TT_GUARD_BEGIN
#define TT_GUARD_END(env)

namespace tt {
// The JS name of a native function: its C++ name with a lower-case first letter
// (NnConv2d -> nnConv2d, Unary -> unary), so every export follows one camelCase scheme.
std::string JsName(const char* cxxName);
}  // namespace tt

// Exports TT_FN(name) under its JS name; TT_EXPORT_AS when the JS name differs (storage's `free`).
#define TT_EXPORT(exports, env, name) (exports).Set(tt::JsName(#name), Napi::Function::New((env), name))
#define TT_EXPORT_AS(exports, env, jsName, name) (exports).Set((jsName), Napi::Function::New((env), name))
