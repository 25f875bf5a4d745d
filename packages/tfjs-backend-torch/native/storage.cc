// Handle table and host<->ATen copies (guide §1.2, §7). Every tensor tfjs knows about lives in one
// slot of `g_table`; a slot is freed by disposeData and reused through a free list, so handles stay
// small ints that JS can pass without allocating.
#include "context.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_set>

namespace tt {

namespace {

struct Slot {
  at::Tensor t;
  bool live = false;
  std::vector<std::pair<int32_t, at::Tensor>> derived;  // see DerivedOf
};

std::vector<Slot> g_table;
std::vector<int32_t> g_free;
int64_t g_live = 0;

bool g_device_init = false;
at::Device g_device(at::kCPU);

}  // namespace

at::ScalarType ToScalarType(int32_t code) {
  switch (code) {
    case kFloat32: return at::kFloat;
    case kInt32: return at::kInt;
    case kBool: return at::kBool;
    default: throw std::runtime_error("unknown dtype code " + std::to_string(code));
  }
}

int32_t ToDtypeCode(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return kFloat32;
    case at::kInt: return kInt32;
    case at::kBool: return kBool;
    default:
      throw std::runtime_error(std::string("unsupported result dtype ") + c10::toString(t) +
                               " (only float32, int32 and bool are stored)");
  }
}

at::Device CurrentDevice() {
  if (!g_device_init) {
    g_device_init = true;
    const char* want = std::getenv("TFJS_TORCH_DEVICE");
    if (want != nullptr && std::strcmp(want, "cuda") == 0 && at::globalContext().hasCUDA() &&
        torch::cuda::is_available()) {
      g_device = at::Device(at::kCUDA, 0);
      // Creates the CUDA context and the caching allocator now: its statistics (ops_cuda.cc)
      // throw "did you call init?" until the first allocation on the device.
      (void)at::empty({1}, at::TensorOptions().dtype(at::kFloat).device(g_device));
    }
  }
  return g_device;
}

// True when `t` covers its whole storage exactly once, in some order of its dimensions (a
// permuted contiguous tensor): keeping it as it is pins no extra memory.
static bool OwnsDenseStorage(const at::Tensor& t) {
  return t.is_non_overlapping_and_dense() && t.storage_offset() == 0 &&
         t.storage().nbytes() == static_cast<size_t>(t.numel()) * t.element_size();
}

int32_t Put(at::Tensor t, bool keepDenseLayout) {
  // Results of ATen ops are sometimes int64/float64/uint8 (argmax, index ops): store only the three
  // dtypes tfjs has, so readSync is always a plain memcpy into the matching typed array.
  switch (t.scalar_type()) {
    case at::kFloat: case at::kInt: case at::kBool: break;
    case at::kLong: case at::kShort: case at::kChar: case at::kByte: t = t.to(at::kInt); break;
    case at::kDouble: case at::kHalf: case at::kBFloat16: t = t.to(at::kFloat); break;
    default: ToDtypeCode(t.scalar_type());  // throws with a clear message
  }
  if (!(keepDenseLayout && OwnsDenseStorage(t))) t = t.contiguous();
  int32_t h;
  if (!g_free.empty()) {
    h = g_free.back();
    g_free.pop_back();
  } else {
    h = static_cast<int32_t>(g_table.size());
    g_table.emplace_back();
  }
  g_table[h].t = std::move(t);
  g_table[h].live = true;
  ++g_live;
  return h;
}

const at::Tensor& Get(int32_t h) {
  if (h < 0 || static_cast<size_t>(h) >= g_table.size() || !g_table[h].live) {
    throw std::runtime_error("unknown tensor handle " + std::to_string(h));
  }
  return g_table[h].t;
}

void Free(int32_t h) {
  if (h < 0 || static_cast<size_t>(h) >= g_table.size() || !g_table[h].live) {
    throw std::runtime_error("free of unknown tensor handle " + std::to_string(h));
  }
  g_table[h].t = at::Tensor();
  g_table[h].derived.clear();
  g_table[h].live = false;
  g_free.push_back(h);
  --g_live;
}

int64_t Count() { return g_live; }

at::Tensor DerivedOf(int32_t h, int32_t kind, const std::function<at::Tensor()>& make) {
  Get(h);  // validates h
  for (const auto& kv : g_table[h].derived) {
    if (kv.first == kind) return kv.second;
  }
  at::Tensor t = make();
  g_table[h].derived.emplace_back(kind, t);
  return t;
}

std::vector<int64_t> IntListArg(const Napi::CallbackInfo& info, size_t i) {
  std::vector<int64_t> out;
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_int32_array) throw std::runtime_error("expected an Int32Array");
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    out.reserve(a.ElementLength());
    for (size_t k = 0; k < a.ElementLength(); ++k) out.push_back(a[k]);
  } else if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    out.reserve(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) out.push_back(a.Get(k).As<Napi::Number>().Int64Value());
  } else {
    throw std::runtime_error("expected a number[] or Int32Array argument at position " + std::to_string(i));
  }
  return out;
}

std::vector<at::Tensor> TensorListArg(const Napi::CallbackInfo& info, size_t i) {
  std::vector<at::Tensor> out;
  for (int64_t h : IntListArg(info, i)) out.push_back(Get(static_cast<int32_t>(h)));
  return out;
}

namespace {
Napi::Int32Array Describe(Napi::Env env, int32_t h) {
  const at::Tensor& t = g_table[h].t;
  const int64_t rank = t.dim();
  Napi::Int32Array out = Napi::Int32Array::New(env, 3 + rank);
  out[0] = h;
  out[1] = ToDtypeCode(t.scalar_type());
  out[2] = static_cast<int32_t>(rank);
  for (int64_t d = 0; d < rank; ++d) out[static_cast<size_t>(3 + d)] = static_cast<int32_t>(t.size(d));
  return out;
}
}  // namespace

Napi::Value ReturnTensor(Napi::Env env, at::Tensor t, bool keepDenseLayout) {
  return Describe(env, Put(std::move(t), keepDenseLayout));
}

Napi::Value ReturnTensors(Napi::Env env, const std::vector<at::Tensor>& ts, bool keepDenseLayout) {
  // Convert all first, insert after: an exception half-way must not leave orphan handles (guide §7c).
  std::vector<at::Tensor> ready;
  ready.reserve(ts.size());
  for (const at::Tensor& t : ts) ready.push_back(t);
  std::vector<int32_t> hs;
  try {
    for (at::Tensor& t : ready) hs.push_back(Put(std::move(t), keepDenseLayout));
  } catch (...) {
    for (int32_t h : hs) Free(h);
    throw;
  }
  Napi::Array arr = Napi::Array::New(env, hs.size());
  for (size_t k = 0; k < hs.size(); ++k) arr.Set(static_cast<uint32_t>(k), Describe(env, hs[k]));
  return arr;
}

namespace {

// fromTyped(values: Float32Array|Int32Array|Uint8Array, shape: number[], dtypeCode): handle
TT_FN(FromTyped) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray()) {
    throw Napi::TypeError::New(env, "fromTyped(values, shape, dtype): values must be a typed array");
  }
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  std::vector<int64_t> shape = IntListArg(info, 1);
  at::ScalarType want = ToScalarType(static_cast<int32_t>(IntArg(info, 2)));
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  at::ScalarType src;
  switch (ta.TypedArrayType()) {
    case napi_float32_array: src = at::kFloat; break;
    case napi_int32_array: src = at::kInt; break;
    case napi_uint8_array: case napi_uint8_clamped_array: src = at::kByte; break;
    case napi_int8_array: src = at::kChar; break;
    case napi_int16_array: src = at::kShort; break;
    case napi_float64_array: src = at::kDouble; break;
    default: throw Napi::TypeError::New(env, "fromTyped: unsupported typed array type");
  }
  if (static_cast<int64_t>(ta.ElementLength()) != n) {
    throw Napi::RangeError::New(env, "fromTyped: " + std::to_string(ta.ElementLength()) +
                                         " values do not fill shape of size " + std::to_string(n));
  }
  at::Tensor host = at::empty(shape, at::TensorOptions().dtype(src));
  if (n > 0) {
    const uint8_t* base = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    std::memcpy(host.data_ptr(), base, ta.ByteLength());
  }
  at::Tensor t;
  if (src == want) {
    t = host;
  } else if (want == at::kBool) {
    t = host.ne(0);
  } else if (want == at::kInt && (src == at::kFloat || src == at::kDouble)) {
    // JS typed-array semantics: NaN -> 0, truncation toward zero.
    t = at::nan_to_num(host, 0.0, 0.0, 0.0).trunc().to(at::kInt);
  } else {
    t = host.to(want);
  }
  at::Device dev = CurrentDevice();
  // A plain (synchronous) copy. Tried on an H200: scalars as a device fill and everything else
  // through pinned memory asynchronously made a ResNet-18 step slower (44 -> 69 ms at batch 32),
  // because the step is bound by per-op host work and the GPU queue is nearly always drained.
  if (!dev.is_cpu()) t = t.to(dev);
  return Napi::Number::New(env, Put(std::move(t)));
}

// toTyped(handle): a new Float32Array | Int32Array | Uint8Array with a copy of the data.
TT_FN(ToTyped) {
  Napi::Env env = info.Env();
  at::Tensor t = Get(static_cast<int32_t>(IntArg(info, 0)));
  if (!t.device().is_cpu()) t = t.to(at::kCPU);  // synchronises with the stream
  t = t.contiguous();
  const size_t n = static_cast<size_t>(t.numel());
  switch (t.scalar_type()) {
    case at::kFloat: {
      Napi::Float32Array a = Napi::Float32Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.data_ptr(), n * 4);
      return a;
    }
    case at::kInt: {
      Napi::Int32Array a = Napi::Int32Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.data_ptr(), n * 4);
      return a;
    }
    case at::kBool: {
      Napi::Uint8Array a = Napi::Uint8Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.data_ptr(), n);
      return a;
    }
    default: throw std::runtime_error("toTyped: unexpected stored dtype");
  }
}

TT_FN(FreeHandle) {
  Free(static_cast<int32_t>(IntArg(info, 0)));
  return info.Env().Undefined();
}

// retain(handle): a second handle to the same tensor (shared storage, no copy), so a deferred
// computation can keep its inputs alive after tfjs disposes them.
TT_FN(RetainHandle) {
  at::Tensor t = Get(static_cast<int32_t>(IntArg(info, 0)));
  return Napi::Number::New(info.Env(), Put(std::move(t)));
}

TT_FN(CountHandles) {
  return Napi::Number::New(info.Env(), static_cast<double>(Count()));
}

// Bytes held by live tensors, counting each underlying storage once (views share storage).
TT_FN(NativeBytes) {
  std::unordered_set<const void*> seen;
  double bytes = 0;
  for (const Slot& s : g_table) {
    if (!s.live || !s.t.defined()) continue;
    const void* key = s.t.storage().unsafeGetStorageImpl();
    if (seen.insert(key).second) bytes += static_cast<double>(s.t.storage().nbytes());
    for (const auto& kv : s.derived) {  // cached layouts (DerivedOf) are native memory too
      const void* dk = kv.second.storage().unsafeGetStorageImpl();
      if (seen.insert(dk).second) bytes += static_cast<double>(kv.second.storage().nbytes());
    }
  }
  return Napi::Number::New(info.Env(), bytes);
}

TT_FN(SetNumThreads) {
  int64_t n = IntArg(info, 0);
  if (n < 1) throw std::runtime_error("setNumThreads: expected a positive integer");
  at::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

TT_FN(GetNumThreads) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

TT_FN(DeviceName) {
  return Napi::String::New(info.Env(), CurrentDevice().is_cuda() ? "cuda" : "cpu");
}

TT_FN(HasCuda) {
  return Napi::Boolean::New(info.Env(), at::globalContext().hasCUDA());
}

// Waits for queued GPU work (used by time()); a no-op on CPU.
TT_FN(Synchronize) {
  if (CurrentDevice().is_cuda()) torch::cuda::synchronize();
  return info.Env().Undefined();
}

TT_FN(TorchVersion) {
  return Napi::String::New(info.Env(), TORCH_VERSION);
}

}  // namespace

namespace {
int32_t g_precision = kFp32;
}  // namespace

int32_t CurrentPrecision() { return g_precision; }
void SetInitialPrecision(int32_t code) { g_precision = code; }

std::string JsName(const char* cxxName) {
  std::string name(cxxName);
  if (!name.empty()) name[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
  return name;
}

namespace {
// setPrecision(code): kFp32 | kTf32 | kBf16 (context.h). TF32 is a cuDNN/cuBLAS switch; with
// TFJS_TORCH_TF32=1 at load it starts on.
TT_FN(SetPrecision) {
  const int32_t code = static_cast<int32_t>(IntArg(info, 0));
  if (code < kFp32 || code > kBf16) throw std::runtime_error("setPrecision: unknown precision code " + std::to_string(code));
  g_precision = code;
  at::globalContext().setAllowTF32CuDNN(code == kTf32);
  at::globalContext().setAllowTF32CuBLAS(code == kTf32);
  return info.Env().Undefined();
}

TT_FN(GetPrecision) { return Napi::Number::New(info.Env(), g_precision); }
}  // namespace

void RegisterStorage(Napi::Env env, Napi::Object exports) {
  TT_EXPORT(exports, env, FromTyped);
  TT_EXPORT(exports, env, ToTyped);
  TT_EXPORT_AS(exports, env, "free", FreeHandle);
  TT_EXPORT_AS(exports, env, "retain", RetainHandle);
  TT_EXPORT_AS(exports, env, "count", CountHandles);
  TT_EXPORT(exports, env, NativeBytes);
  TT_EXPORT(exports, env, SetNumThreads);
  TT_EXPORT(exports, env, GetNumThreads);
  TT_EXPORT_AS(exports, env, "device", DeviceName);
  TT_EXPORT(exports, env, HasCuda);
  TT_EXPORT(exports, env, Synchronize);
  TT_EXPORT(exports, env, TorchVersion);
  TT_EXPORT(exports, env, SetPrecision);
  TT_EXPORT(exports, env, GetPrecision);
}

}  // namespace tt
