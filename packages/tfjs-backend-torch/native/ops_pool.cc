// 2-D pooling: MaxPool / MaxPoolGrad / AvgPool / AvgPoolGrad (guide §4.2).
//
// Window geometry comes from backend_util.computePool2DInfo (TypeScript). As for convolutions,
// Plan() tells whether ATen's symmetric padding reproduces tfjs's windows; if not, the input is
// pre-padded: with -inf for max pooling, and for average pooling with zeros plus an explicit
// per-window count, because tfjs divides by the number of *valid* (non-padding) taps and
// count_include_pad=false would count the pre-padded zeros as valid.
#include "ops_nn.h"

#include <ATen/ATen.h>

#include <limits>

namespace tt {
namespace nn {

namespace {

struct PoolArgs {
  std::vector<int64_t> k, s;
  Pads p;
};

PoolArgs ReadPoolArgs(const Napi::CallbackInfo& info, size_t first) {
  return PoolArgs{Pair(info, first, "filter size"), Pair(info, first + 1, "strides"),
                  PadsArg(info, first + 2)};
}

const std::vector<int64_t> kNoDilation = {1, 1};

// ATen's pooling kernels are floating-point only; tfjs pools int32 too (same dtype out).
at::Tensor AsFloat(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

// tfjs's max pooling skips NaN (a NaN never compares greater), ATen's propagates it: map NaN to
// -inf first (one element-wise pass), so an all-NaN window gives -inf as in tfjs.
at::Tensor NanAsMinusInf(const at::Tensor& t) {
  const double inf = std::numeric_limits<double>::infinity();
  return at::nan_to_num(t, -inf, inf, -inf);
}

// Number of valid (in-image) taps per window of a pre-padded H x W image: [1, 1, outH, outW].
at::Tensor ValidCounts(int64_t H, int64_t W, const PoolArgs& a, const Pads& pre,
                       const at::TensorOptions& opts) {
  const at::Tensor ones = PadSpatial(at::ones({1, 1, H, W}, opts), pre, 0.0);
  return at::avg_pool2d(ones, a.k, a.s, {0, 0}, false, true, /*divisor_override=*/1);
}

}  // namespace

// nnMaxPool(x, filter[2], strides[2], pads[4], outHW[2]) -> y   (NHWC)
TT_FN(NnMaxPool) {
  const at::Tensor& x = TensorArg(info, 0);
  const PoolArgs a = ReadPoolArgs(info, 1);
  const std::vector<int64_t> o = Pair(info, 4, "output size");
  at::Tensor xv = ToNCHW(NanAsMinusInf(AsFloat(x)));
  const Plan plan = MakePlan(xv.size(2), xv.size(3), o[0], o[1], a.p, a.k[0], a.k[1], a.s, kNoDilation, true);
  if (!plan.direct) xv = PadSpatial(xv, plan.pre, -std::numeric_limits<double>::infinity());
  at::Tensor y = ToNHWC(at::max_pool2d(xv, a.k, a.s, plan.pad, kNoDilation, false));
  return ReturnTensor(info.Env(), y.scalar_type() == x.scalar_type() ? y : y.to(x.scalar_type()));
}

// nnMaxPoolGrad(dy, x, filter[2], strides[2], pads[4]) -> dx   (NHWC). The argmax positions are
// recomputed from x (tfjs passes the forward output too, but positions are what the gradient needs);
// ties go to the first position in row-major window order in both libraries.
TT_FN(NnMaxPoolGrad) {
  const at::Tensor& dy = TensorArg(info, 0);
  const at::Tensor& x = TensorArg(info, 1);
  const PoolArgs a = ReadPoolArgs(info, 2);
  at::Tensor xv = ToNCHW(NanAsMinusInf(AsFloat(x)));
  const at::Tensor dyv = ToNCHW(AsFloat(dy));
  const Plan plan = MakePlan(xv.size(2), xv.size(3), dyv.size(2), dyv.size(3), a.p, a.k[0], a.k[1], a.s,
                             kNoDilation, true);
  if (!plan.direct) xv = PadSpatial(xv, plan.pre, -std::numeric_limits<double>::infinity());
  auto yi = at::max_pool2d_with_indices(xv, a.k, a.s, plan.pad, kNoDilation, false);
  at::Tensor dx = at::max_pool2d_with_indices_backward(dyv, xv, a.k, a.s, plan.pad, kNoDilation, false,
                                                       std::get<1>(yi));
  if (!plan.direct) dx = Unpad(dx, plan.pre);
  return ReturnTensor(info.Env(), ToNHWC(dx));
}

// nnAvgPool(x, filter[2], strides[2], pads[4], outHW[2]) -> y   (NHWC, float32)
TT_FN(NnAvgPool) {
  const at::Tensor& x = TensorArg(info, 0);
  const PoolArgs a = ReadPoolArgs(info, 1);
  const std::vector<int64_t> o = Pair(info, 4, "output size");
  const at::Tensor xv = ToNCHW(AsFloat(x));
  const int64_t H = xv.size(2), W = xv.size(3);
  const Plan plan = MakePlan(H, W, o[0], o[1], a.p, a.k[0], a.k[1], a.s, kNoDilation, true);
  at::Tensor y;
  if (plan.direct) {
    y = at::avg_pool2d(xv, a.k, a.s, plan.pad, false, /*count_include_pad=*/false, {});
  } else {
    const at::Tensor sums = at::avg_pool2d(PadSpatial(xv, plan.pre, 0.0), a.k, a.s, {0, 0}, false, true, 1);
    y = sums / ValidCounts(H, W, a, plan.pre, xv.options());
  }
  return ReturnTensor(info.Env(), ToNHWC(y));
}

// nnAvgPoolGrad(dy, x, filter[2], strides[2], pads[4]) -> dx   (NHWC; x only supplies the shape)
// Parity with tfjs: its AvgPoolGrad kernels (cpu, webgl, wasm) give every window's dy the weight
// 1/(kh*kw), even where the forward pass divided by a smaller valid-tap count at the border. We
// do the same (divisor_override = kh*kw), so torch and cpu gradients agree; for 'valid' padding
// this is also the exact gradient.
TT_FN(NnAvgPoolGrad) {
  const at::Tensor& dy = TensorArg(info, 0);
  const at::Tensor& x = TensorArg(info, 1);
  const PoolArgs a = ReadPoolArgs(info, 2);
  at::Tensor xv = ToNCHW(AsFloat(x));
  at::Tensor dyv = ToNCHW(AsFloat(dy));
  if (dyv.is_cuda()) {
    // On CUDA (libtorch 2.11, H200) the channels-last backward kernel with a divisor override gave
    // wrong border gradients; the NCHW kernel matches tfjs. Pooling gradients are rare in our nets.
    dyv = dyv.contiguous();
    xv = at::empty(xv.sizes(), xv.options().memory_format(at::MemoryFormat::Contiguous));
  }
  const int64_t H = xv.size(2), W = xv.size(3);
  const Plan plan = MakePlan(H, W, dyv.size(2), dyv.size(3), a.p, a.k[0], a.k[1], a.s, kNoDilation, true);
  const int64_t divisor = a.k[0] * a.k[1];
  at::Tensor dx;
  if (plan.direct) {
    dx = at::avg_pool2d_backward(dyv, xv, a.k, a.s, plan.pad, false, true, divisor);
  } else {
    // Only the padded shape matters to the backward pass.
    const at::Tensor xp = at::empty({xv.size(0), xv.size(1), H + plan.pre.top + plan.pre.bottom,
                                     W + plan.pre.left + plan.pre.right},
                                    xv.options().memory_format(xv.is_cuda() ? at::MemoryFormat::Contiguous
                                                                            : at::MemoryFormat::ChannelsLast));
    dx = Unpad(at::avg_pool2d_backward(dyv, xp, a.k, a.s, {0, 0}, false, true, divisor), plan.pre);
  }
  return ReturnTensor(info.Env(), ToNHWC(dx));
}

void RegisterPoolOps(Napi::Env env, Napi::Object exports) {
  TT_EXPORT(exports, env, NnMaxPool);
  TT_EXPORT(exports, env, NnMaxPoolGrad);
  TT_EXPORT(exports, env, NnAvgPool);
  TT_EXPORT(exports, env, NnAvgPoolGrad);
}

}  // namespace nn
}  // namespace tt
