// Winograd convolutions on the CPU, straight through oneDNN (the library libtorch's own CPU
// convolutions run on). docs/engine-speed.md, "Winograd convolutions".
//
// Why: a 3x3 stride-1 convolution computed with Winograd's F(4x4, 3x3) needs about a quarter of
// the multiplications of the direct method. oneDNN 2.x has such kernels for AVX-512 CPUs (forward,
// input gradient and filter gradient), but libtorch never asks for them: ATen always requests
// the direct algorithm. On the 2-core AVX-512 development machine, with every layout conversion
// counted, they take 0.6-0.7x the direct kernels' time for ResNet-18's 32x32, 16x16 and 8x8 layers
// at batch 32, and are slower on 4x4 maps, so only maps of 8x8 and larger use them. They are also
// slower on narrow layers (1.2-1.7x the direct time with 16 input or output channels, about even
// at 32 in and out: the small purifiers' dense blocks and a narrow ResNet-18), so a layer needs 32
// channels or more on both sides and 64 or more on one (a paper-size dense block's 128->32 gains).
//
// How: the tensors stay ATen tensors in the engine's layouts (channels_last activations, filters
// in whatever dense layout they were stored). Each call describes them to oneDNN by their strides,
// reorders them into the blocked layouts the Winograd kernel wants (the weights into its own
// transformed format, cached per filter handle so an attack's fixed weights are transformed
// once), runs it, and reorders the result into a fresh ATen tensor. Primitives are cached by shape.
//
// When oneDNN's headers were absent at build time (or it is not version 2, whose API this file
// uses), every entry point answers "not handled" and the direct path runs as before. The same
// happens for a shape the Winograd kernel rejects: the failure is remembered per shape.
#include "ops_nn.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

#ifdef TT_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#if DNNL_VERSION_MAJOR != 2
#undef TT_WITH_DNNL  // oneDNN 3 dropped the operation descriptors used below
#endif
#endif

namespace tt {
namespace nn {

namespace {

// Off with TFJS_TORCH_WINOGRAD=0 at load, or setWinograd(false) from JS (benchmarks compare both).
bool g_enabled = [] {
  const char* v = std::getenv("TFJS_TORCH_WINOGRAD");
  return v == nullptr || std::strcmp(v, "0") != 0;
}();
std::array<int64_t, 3> g_calls = {0, 0, 0};  // forward, input gradient, filter gradient

// Winograd's arithmetic differs from the direct sum only by float32 rounding (about 1e-6
// relative here), but it is only worth it on maps of 8x8 and more (see the header comment).
bool ShapeQualifies(int64_t C, int64_t K, int64_t H, int64_t W, int64_t kh, int64_t kw,
                    const std::vector<int64_t>& s, const std::vector<int64_t>& pad,
                    const std::vector<int64_t>& d) {
  return kh == 3 && kw == 3 && s[0] == 1 && s[1] == 1 && d[0] == 1 && d[1] == 1 && pad[0] == 1 &&
         pad[1] == 1 && C % 16 == 0 && K % 16 == 0 && std::min(C, K) >= 32 &&
         std::max(C, K) >= 64 && H * W >= 64;
}

bool Usable(const at::Tensor& t) {
  return g_enabled && CurrentDevice().is_cpu() && t.device().is_cpu() && t.scalar_type() == at::kFloat &&
         CurrentPrecision() != kBf16;
}

}  // namespace

#ifdef TT_WITH_DNNL

namespace {

using dnnl::memory;
using Dims = memory::dims;

dnnl::engine& Engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}
dnnl::stream& Stream() {
  static dnnl::stream s(Engine());
  return s;
}

// Primitive descriptors of one convolution shape (batch, channels in/out, map size, bias).
struct Prims {
  bool ok = false;
  int32_t id = 0;  // tells the cached transformed filters of different shapes apart
  dnnl::convolution_forward::primitive_desc fwd;
  dnnl::convolution_backward_data::primitive_desc bwdData;
  dnnl::convolution_backward_weights::primitive_desc bwdWeights;
  dnnl::convolution_forward fwdPrim;
  dnnl::convolution_backward_data bwdDataPrim;
  dnnl::convolution_backward_weights bwdWeightsPrim;
};

using Key = std::array<int64_t, 6>;  // N, C, K, H, W, has bias
std::map<Key, std::unique_ptr<Prims>> g_prims;

const Prims& PrimsFor(int64_t N, int64_t C, int64_t K, int64_t H, int64_t W, bool bias) {
  const Key key = {N, C, K, H, W, bias ? 1 : 0};
  auto it = g_prims.find(key);
  if (it != g_prims.end()) return *it->second;
  auto p = std::make_unique<Prims>();
  p->id = static_cast<int32_t>(g_prims.size());
  try {
    const auto f32 = memory::data_type::f32;
    const auto any = memory::format_tag::any;
    const memory::desc src({N, C, H, W}, f32, any), wei({K, C, 3, 3}, f32, any), dst({N, K, H, W}, f32, any);
    const memory::desc b({K}, f32, memory::format_tag::x);
    const Dims one = {1, 1};
    const auto alg = dnnl::algorithm::convolution_winograd;
    auto fdesc = bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src, wei, b, dst, one, one, one)
                      : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src, wei, dst, one, one, one);
    p->fwd = dnnl::convolution_forward::primitive_desc(fdesc, Engine());
    p->bwdData = dnnl::convolution_backward_data::primitive_desc(
        dnnl::convolution_backward_data::desc(alg, src, wei, dst, one, one, one), Engine(), p->fwd);
    p->bwdWeights = dnnl::convolution_backward_weights::primitive_desc(
        dnnl::convolution_backward_weights::desc(alg, src, wei, dst, one, one, one), Engine(), p->fwd);
    p->fwdPrim = dnnl::convolution_forward(p->fwd);
    p->bwdDataPrim = dnnl::convolution_backward_data(p->bwdData);
    p->bwdWeightsPrim = dnnl::convolution_backward_weights(p->bwdWeights);
    p->ok = true;
  } catch (const dnnl::error&) {
    p->ok = false;  // e.g. a CPU without AVX-512: remembered, the direct path runs
  }
  return *g_prims.emplace(key, std::move(p)).first->second;
}

// A user-layout description of an ATen tensor (any strides), e.g. channels_last NCHW.
memory::desc Describe(const at::Tensor& t) {
  return memory::desc(Dims(t.sizes().begin(), t.sizes().end()), memory::data_type::f32,
                      Dims(t.strides().begin(), t.strides().end()));
}

memory Wrap(const at::Tensor& t) {
  return memory(Describe(t), Engine(), const_cast<void*>(t.data_ptr()));
}

// Backing store for a oneDNN-layout buffer, from ATen's allocator (its CPU block cache included).
at::Tensor Buffer(const memory::desc& d) {
  return at::empty({static_cast<int64_t>((d.get_size() + 3) / 4)}, at::TensorOptions().dtype(at::kFloat));
}

// `t` in layout `want`: the tensor itself when it already is, else a reordered copy. `keep`
// receives the copy's backing tensor so it outlives the primitive's execution.
memory InLayout(const at::Tensor& t, const memory::desc& want, at::Tensor* keep) {
  memory user = Wrap(t);
  if (user.get_desc() == want) return user;
  *keep = Buffer(want);
  memory out(want, Engine(), keep->data_ptr());
  dnnl::reorder(user, out).execute(Stream(), user, out);
  return out;
}

// A filter in the Winograd kernel's transformed layout, cached with the filter's handle (tensors
// never change in place). The layout belongs to one primitive (the forward and the input-gradient
// kernels transform differently, and the blocking depends on the batch and map size), so the
// primitive's id and direction tell cached copies apart.
at::Tensor WinogradWeights(int32_t handle, const at::Tensor& oihw, const memory::desc& want, const Prims& p,
                           bool forInputGradient) {
  const int32_t kind = 0x40000000 | (p.id * 2 + (forInputGradient ? 1 : 0));
  auto make = [&] {
    at::Tensor keep;
    InLayout(oihw, want, &keep);
    return keep.defined() ? keep : oihw.contiguous();
  };
  return handle >= 0 ? DerivedOf(handle, kind, make) : make();
}

}  // namespace

bool WinogradConvForward(const at::Tensor& x, const at::Tensor& hwio, int32_t filterHandle,
                         const at::Tensor& bias, const std::vector<int64_t>& s,
                         const std::vector<int64_t>& pad, const std::vector<int64_t>& d, at::Tensor* y) {
  if (!Usable(x) || hwio.scalar_type() != at::kFloat) return false;
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = hwio.size(3);
  if (!ShapeQualifies(C, K, H, W, hwio.size(0), hwio.size(1), s, pad, d)) return false;
  const Prims& p = PrimsFor(N, C, K, H, W, bias.defined());
  if (!p.ok) return false;
  at::Tensor srcKeep;
  memory src = InLayout(x, p.fwd.src_desc(), &srcKeep);
  at::Tensor wt = WinogradWeights(filterHandle, hwio.permute({3, 2, 0, 1}), p.fwd.weights_desc(), p, false);
  memory wei(p.fwd.weights_desc(), Engine(), wt.data_ptr());
  at::Tensor dstBuf = Buffer(p.fwd.dst_desc());
  memory dst(p.fwd.dst_desc(), Engine(), dstBuf.data_ptr());
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  at::Tensor biasC;
  if (bias.defined()) {
    biasC = bias.contiguous();
    args.insert({DNNL_ARG_BIAS, memory(p.fwd.bias_desc(), Engine(), biasC.data_ptr())});
  }
  p.fwdPrim.execute(Stream(), args);
  // The result in the input's memory format (channels_last for the engine's NHWC tensors).
  *y = at::empty({N, K, H, W}, x.options().memory_format(x.suggest_memory_format()));
  memory out = Wrap(*y);
  dnnl::reorder(dst, out).execute(Stream(), dst, out);
  Stream().wait();
  ++g_calls[0];
  return true;
}

bool WinogradConvBackwardInput(const at::Tensor& dy, const at::Tensor& hwio, int32_t filterHandle,
                               int64_t N, int64_t C, int64_t H, int64_t W, at::MemoryFormat format,
                               const std::vector<int64_t>& s, const std::vector<int64_t>& pad,
                               const std::vector<int64_t>& d, at::Tensor* dx) {
  if (!Usable(dy) || hwio.scalar_type() != at::kFloat) return false;
  const int64_t K = hwio.size(3);
  if (dy.size(0) != N || dy.size(1) != K || dy.size(2) != H || dy.size(3) != W) return false;
  if (!ShapeQualifies(C, K, H, W, hwio.size(0), hwio.size(1), s, pad, d)) return false;
  const Prims& p = PrimsFor(N, C, K, H, W, false);
  if (!p.ok) return false;
  at::Tensor dyKeep;
  memory ddst = InLayout(dy, p.bwdData.diff_dst_desc(), &dyKeep);
  at::Tensor wt = WinogradWeights(filterHandle, hwio.permute({3, 2, 0, 1}), p.bwdData.weights_desc(), p, true);
  memory wei(p.bwdData.weights_desc(), Engine(), wt.data_ptr());
  at::Tensor dsrcBuf = Buffer(p.bwdData.diff_src_desc());
  memory dsrc(p.bwdData.diff_src_desc(), Engine(), dsrcBuf.data_ptr());
  p.bwdDataPrim.execute(Stream(), {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, dsrc}});
  *dx = at::empty({N, C, H, W}, dy.options().memory_format(format));
  memory out = Wrap(*dx);
  dnnl::reorder(dsrc, out).execute(Stream(), dsrc, out);
  Stream().wait();
  ++g_calls[1];
  return true;
}

bool WinogradConvBackwardFilter(const at::Tensor& x, const at::Tensor& dy, const std::vector<int64_t>& hwioShape,
                                const std::vector<int64_t>& s, const std::vector<int64_t>& pad,
                                const std::vector<int64_t>& d, at::Tensor* gwOihw) {
  if (!Usable(x) || dy.scalar_type() != at::kFloat) return false;
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = hwioShape[3];
  if (hwioShape[2] != C || dy.size(0) != N || dy.size(1) != K || dy.size(2) != H || dy.size(3) != W) return false;
  if (!ShapeQualifies(C, K, H, W, hwioShape[0], hwioShape[1], s, pad, d)) return false;
  const Prims& p = PrimsFor(N, C, K, H, W, false);
  if (!p.ok) return false;
  at::Tensor srcKeep, dyKeep;
  memory src = InLayout(x, p.bwdWeights.src_desc(), &srcKeep);
  memory ddst = InLayout(dy, p.bwdWeights.diff_dst_desc(), &dyKeep);
  at::Tensor dwBuf = Buffer(p.bwdWeights.diff_weights_desc());
  memory dw(p.bwdWeights.diff_weights_desc(), Engine(), dwBuf.data_ptr());
  p.bwdWeightsPrim.execute(Stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dw}});
  // OHWI memory, as the direct channels_last path leaves it (ops_conv.cc keeps that layout).
  *gwOihw = at::empty({K, C, 3, 3}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  memory out = Wrap(*gwOihw);
  dnnl::reorder(dw, out).execute(Stream(), dw, out);
  Stream().wait();
  ++g_calls[2];
  return true;
}

bool WinogradBuilt() { return true; }

// Whether this CPU has the kernels at all (oneDNN 2 implements them for AVX-512 only): a small
// canonical shape is asked for once.
bool WinogradSupported() {
  static const bool ok = PrimsFor(1, 16, 16, 8, 8, false).ok;
  return ok;
}

#else  // no oneDNN headers at build time: the direct path always runs

bool WinogradConvForward(const at::Tensor&, const at::Tensor&, int32_t, const at::Tensor&, const std::vector<int64_t>&,
                         const std::vector<int64_t>&, const std::vector<int64_t>&, at::Tensor*) { return false; }
bool WinogradConvBackwardInput(const at::Tensor&, const at::Tensor&, int32_t, int64_t, int64_t, int64_t, int64_t,
                               at::MemoryFormat, const std::vector<int64_t>&, const std::vector<int64_t>&,
                               const std::vector<int64_t>&, at::Tensor*) { return false; }
bool WinogradConvBackwardFilter(const at::Tensor&, const at::Tensor&, const std::vector<int64_t>&, const std::vector<int64_t>&,
                                const std::vector<int64_t>&, const std::vector<int64_t>&, at::Tensor*) { return false; }
bool WinogradBuilt() { return false; }
bool WinogradSupported() { return false; }

#endif

namespace {

// setWinograd(on): the process-wide switch (benchmarks and tests compare both paths).
TT_FN(SetWinograd) {
  g_enabled = BoolArg(info, 0);
  return info.Env().Undefined();
}

// winogradStatus() -> { built, supported, enabled, calls: { forward, backpropInput, backpropFilter } }
TT_FN(WinogradStatus) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("built", Napi::Boolean::New(env, WinogradBuilt()));
  o.Set("supported", Napi::Boolean::New(env, WinogradSupported()));
  o.Set("enabled", Napi::Boolean::New(env, g_enabled));
  Napi::Object calls = Napi::Object::New(env);
  calls.Set("forward", Napi::Number::New(env, static_cast<double>(g_calls[0])));
  calls.Set("backpropInput", Napi::Number::New(env, static_cast<double>(g_calls[1])));
  calls.Set("backpropFilter", Napi::Number::New(env, static_cast<double>(g_calls[2])));
  o.Set("calls", calls);
  return o;
}

}  // namespace

void RegisterWinogradOps(Napi::Env env, Napi::Object exports) {
  TT_EXPORT(exports, env, SetWinograd);
  TT_EXPORT(exports, env, WinogradStatus);
}

}  // namespace nn
}  // namespace tt
