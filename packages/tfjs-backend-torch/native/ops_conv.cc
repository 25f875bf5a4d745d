// Convolutions: Conv2D / FusedConv2D / DepthwiseConv2dNative forward, and the input and filter
// gradients of both (Conv2DBackpropInput is also conv2dTranspose's forward). Guide §4.2.
//
// tfjs's geometry (padding, output size, dimRoundingMode) is normalised in TypeScript by
// backend_util.computeConv2DInfo; here we only have to reproduce its windows with ATen. ATen pads
// symmetrically, tfjs may not ('same' with stride 2 puts the extra row at the bottom), so each op
// first asks Plan() whether ATen's own symmetric padding yields exactly tfjs's windows, and
// otherwise pre-pads (or crops: constant_pad_nd accepts negative pads) the input to the exact
// extent tfjs's windows cover and runs ATen with zero padding.
#include "ops_nn.h"

#include <ATen/ATen.h>

namespace tt {
namespace nn {

Plan MakePlan(int64_t H, int64_t W, int64_t outH, int64_t outW, const Pads& p, int64_t kh,
              int64_t kw, const std::vector<int64_t>& s, const std::vector<int64_t>& d,
              bool poolLimit) {
  const int64_t effKh = (kh - 1) * d[0] + 1;
  const int64_t effKw = (kw - 1) * d[1] + 1;
  // Windows start at -top + i*stride in both libraries; out-of-range taps read zero (conv) or are
  // skipped (pool). So the values agree whenever the *number* of windows agrees, whatever tfjs's
  // bottom/right pad is. ATen pools also require pad <= kernel/2.
  bool direct = H + 2 * p.top >= effKh && W + 2 * p.left >= effKw;
  if (direct) {
    direct = (H + 2 * p.top - effKh) / s[0] + 1 == outH && (W + 2 * p.left - effKw) / s[1] + 1 == outW;
  }
  if (direct && poolLimit) direct = p.top <= kh / 2 && p.left <= kw / 2;
  if (direct) return Plan{true, {p.top, p.left}, Pads{0, 0, 0, 0}};
  // Exactly the rows/cols tfjs's outH x outW windows touch, starting at -top/-left.
  const int64_t needH = (outH - 1) * s[0] + effKh;
  const int64_t needW = (outW - 1) * s[1] + effKw;
  return Plan{false, {0, 0}, Pads{p.top, needH - H - p.top, p.left, needW - W - p.left}};
}

// HWIO filter [kh, kw, in, out] -> OIHW view.
static at::Tensor ConvWeight(const at::Tensor& w) { return w.permute({3, 2, 0, 1}); }

// The OIHW weight laid out as oneDNN wants it for an input in `format`, made once per weight
// tensor (handle) and reused: given the HWIO view, ATen would reorder it on every call, which for
// ResNet-18's 512x512 layers costs more than the convolution. An attack reuses one set of weights
// for all its steps; training makes each new weight's layout once (forward, then input gradient).
static at::Tensor CachedConvWeight(const Napi::CallbackInfo& info, size_t arg, at::MemoryFormat format) {
  const int32_t h = static_cast<int32_t>(IntArg(info, arg));
  const int32_t kind = format == at::MemoryFormat::ChannelsLast ? 1 : 2;
  return DerivedOf(h, kind, [&] { return ConvWeight(Get(h)).contiguous(format); });
}

// Depthwise filter [kh, kw, in, mult] -> grouped-conv weight [in*mult, 1, kh, kw]. tfjs's output
// channel c*mult+m is ATen's grouped order (group c, output m), so no reordering is needed.
static at::Tensor DepthwiseWeight(const at::Tensor& w) {
  return w.permute({2, 3, 0, 1}).reshape({w.size(2) * w.size(3), 1, w.size(0), w.size(1)});
}


// Memory-format policy. Our NCHW views are channels_last, which oneDNN runs fast for large maps,
// but libtorch 1.13 is slower in channels_last when the convolution's *output* map is small
// (ResNet-18's 4x4 stage, including the stride-2 convolution that enters it from 8x8). For those
// one copy of the input (or dy) to contiguous NCHW pays for itself. The same rule holds for the
// forward pass, the input gradient and the filter gradient, so one layer uses one format in all
// three and its filter (stored in that layout, see NnConv2dBackpropFilter) is never reordered.
// Measured with PyTorch 1.13, 2 threads, batch 32, ResNet-18's CIFAR shapes (engine-speed.md).
static bool PreferContiguous(int64_t outH, int64_t outW) {
  return outH * outW <= 16;
}

// FLOPs of a convolution: 2 x batch x output pixels x window (kh*kw*in) x output channels per
// window (out; for a depthwise filter [kh, kw, in, mult], mult with window kh*kw*in counts each
// of the in*mult outputs once per tap, which is exact too).
static double ConvFlops(int64_t batch, int64_t outPixels, int64_t window, int64_t outChannels) {
  return 2.0 * static_cast<double>(batch) * static_cast<double>(outPixels) * static_cast<double>(window) *
         static_cast<double>(outChannels);
}

static at::MemoryFormat FormatFor(bool channelsLast) {
  return channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
}

// nnConv2d(x, filter, bias|-1, preluWeights|-1, strides[2], pads[4], dilations[2], outHW[2],
//          depthwise, channelsLast, activation, leakyreluAlpha) -> y
TT_FN(NnConv2d) {
  const at::Tensor& x = TensorArg(info, 0);
  const at::Tensor& w = TensorArg(info, 1);
  at::Tensor bias = OptTensorArg(info, 2);
  at::Tensor prelu = OptTensorArg(info, 3);
  const std::vector<int64_t> s = Pair(info, 4, "strides");
  const Pads p = PadsArg(info, 5);
  const std::vector<int64_t> d = Pair(info, 6, "dilations");
  const std::vector<int64_t> o = Pair(info, 7, "output size");
  const bool depthwise = BoolArg(info, 8);
  const bool cl = BoolArg(info, 9);
  const int32_t act = static_cast<int32_t>(IntArg(info, 10));
  const double alpha = DoubleArg(info, 11);

  at::Tensor xv = cl ? ToNCHW(x) : x;
  const int64_t C = xv.size(1);
  const SerialIfSmall serial(ConvFlops(xv.size(0), o[0] * o[1], w.size(0) * w.size(1) * w.size(2), w.size(3)));
  const Plan plan = MakePlan(xv.size(2), xv.size(3), o[0], o[1], p, w.size(0), w.size(1), s, d, false);
  if (!plan.direct) xv = PadSpatial(xv, plan.pre, 0.0);
  if (cl && PreferContiguous(o[0], o[1])) xv = xv.contiguous();
  // A per-output-channel bias goes into the convolution itself (oneDNN fuses it); anything else
  // tfjs allows ("broadcastable to the output") is added afterwards in the logical layout.
  const int64_t outC = depthwise ? w.size(2) * w.size(3) : w.size(3);
  const bool biasInConv = bias.defined() && bias.dim() == 1 && bias.size(0) == outC;
  at::Tensor y;
  if (depthwise || !plan.direct ||
      !WinogradConvForward(xv, w, static_cast<int32_t>(IntArg(info, 1)), biasInConv ? bias : at::Tensor(), s, plan.pad, d, &y)) {
    const at::Tensor wv = depthwise ? DepthwiseWeight(w) : CachedConvWeight(info, 1, xv.suggest_memory_format());
    y = AsFloat32Result(at::convolution(
        LowPrecisionOperand(xv), LowPrecisionOperand(wv), biasInConv ? LowPrecisionOperand(bias) : at::Tensor(), s,
        plan.pad, d, /*transposed=*/false, /*output_padding=*/{0, 0}, depthwise ? C : 1));
  }
  if (cl) y = ToNHWC(y);
  if (bias.defined() && !biasInConv) {
    // tfjs's cpu FusedConv2D reshapes a 1-D NCHW bias to [C,1,1]; a size-1 one broadcasts as is.
    y = y + ((!cl && bias.dim() == 1 && bias.size(0) != 1) ? bias.reshape({-1, 1, 1}) : bias);
  }
  if (prelu.defined() && !cl && prelu.dim() == 1 && prelu.size(0) != 1) prelu = prelu.reshape({-1, 1, 1});
  return ReturnTensor(info.Env(), ApplyActivation(y, act, alpha, prelu));
}

// nnConv2dBackpropInput(dy, filter, inputShape[4], strides[2], pads[4], dilations[2], depthwise,
//                       channelsLast, outHW[2]) -> dx of inputShape
// outHW is tfjs's forward output size for inputShape; tfjs's kernels read only that much of dy.
TT_FN(NnConv2dBackpropInput) {
  const at::Tensor& dy = TensorArg(info, 0);
  const at::Tensor& w = TensorArg(info, 1);
  const std::vector<int64_t> in = IntListArg(info, 2);
  const std::vector<int64_t> s = Pair(info, 3, "strides");
  const Pads p = PadsArg(info, 4);
  const std::vector<int64_t> d = Pair(info, 5, "dilations");
  const bool depthwise = BoolArg(info, 6);
  const bool cl = BoolArg(info, 7);
  const std::vector<int64_t> o = Pair(info, 8, "output size");
  if (in.size() != 4) throw std::runtime_error("conv2dBackpropInput: inputShape must have 4 dims");

  const int64_t N = in[0];
  const int64_t C = cl ? in[3] : in[1];
  const int64_t H = cl ? in[1] : in[2];
  const int64_t W = cl ? in[2] : in[3];
  at::Tensor dyv = cl ? ToNCHW(dy) : dy;
  const SerialIfSmall serial(ConvFlops(N, dyv.size(2) * dyv.size(3), w.size(0) * w.size(1) * w.size(2), w.size(3)));
  if (dyv.size(2) > o[0] || dyv.size(3) > o[1]) {
    dyv = dyv.slice(2, 0, std::min(o[0], dyv.size(2))).slice(3, 0, std::min(o[1], dyv.size(3)));
  }
  const Plan plan = MakePlan(H, W, dyv.size(2), dyv.size(3), p, w.size(0), w.size(1), s, d, false);
  const int64_t Hp = plan.direct ? H : H + plan.pre.top + plan.pre.bottom;
  const int64_t Wp = plan.direct ? W : W + plan.pre.left + plan.pre.right;
  // Only the shape (and memory format) of the input matters for grad_input: pass an uninitialised one.
  const bool contiguous = cl && PreferContiguous(dyv.size(2), dyv.size(3));
  if (contiguous) dyv = dyv.contiguous();
  const at::MemoryFormat format = FormatFor(cl && !contiguous);
  at::Tensor winograd;
  if (!depthwise && plan.direct &&
      WinogradConvBackwardInput(dyv, w, static_cast<int32_t>(IntArg(info, 1)), N, C, H, W, format, s, plan.pad, d, &winograd)) {
    return ReturnTensor(info.Env(), cl ? ToNHWC(winograd) : winograd);
  }
  dyv = LowPrecisionOperand(dyv);
  const at::Tensor xLike = at::empty({N, C, Hp, Wp}, dyv.options().memory_format(format));
  const at::Tensor wv = LowPrecisionOperand(depthwise ? DepthwiseWeight(w) : CachedConvWeight(info, 1, format));
  auto grads = at::convolution_backward(dyv, xLike, wv, /*bias_sizes=*/{}, s, plan.pad, d,
                                        /*transposed=*/false, /*output_padding=*/{0, 0},
                                        depthwise ? C : 1, {true, false, false});
  at::Tensor dx = AsFloat32Result(std::get<0>(grads));
  if (!plan.direct) dx = Unpad(dx, plan.pre);
  return ReturnTensor(info.Env(), cl ? ToNHWC(dx) : dx);
}

// nnConv2dBackpropFilter(x, dy, filterShape[4], strides[2], pads[4], dilations[2], depthwise,
//                        channelsLast) -> dFilter of filterShape (HWIO, or [kh,kw,in,mult])
TT_FN(NnConv2dBackpropFilter) {
  const at::Tensor& x = TensorArg(info, 0);
  const at::Tensor& dy = TensorArg(info, 1);
  const std::vector<int64_t> f = IntListArg(info, 2);
  const std::vector<int64_t> s = Pair(info, 3, "strides");
  const Pads p = PadsArg(info, 4);
  const std::vector<int64_t> d = Pair(info, 5, "dilations");
  const bool depthwise = BoolArg(info, 6);
  const bool cl = BoolArg(info, 7);
  if (f.size() != 4) throw std::runtime_error("conv2dBackpropFilter: filterShape must have 4 dims");

  at::Tensor xv = cl ? ToNCHW(x) : x;
  const int64_t C = xv.size(1);
  at::Tensor dyv = cl ? ToNCHW(dy) : dy;
  const SerialIfSmall serial(ConvFlops(xv.size(0), dyv.size(2) * dyv.size(3), f[0] * f[1] * f[2], f[3]));
  const Plan plan = MakePlan(xv.size(2), xv.size(3), dyv.size(2), dyv.size(3), p, f[0], f[1], s, d, false);
  if (!plan.direct) xv = PadSpatial(xv, plan.pre, 0.0);
  if (cl && PreferContiguous(dyv.size(2), dyv.size(3))) {
    xv = xv.contiguous();
    dyv = dyv.contiguous();
  }
  at::Tensor winograd;
  if (!depthwise && plan.direct && WinogradConvBackwardFilter(xv, dyv, f, s, plan.pad, d, &winograd)) {
    return ReturnTensor(info.Env(), winograd.permute({2, 3, 1, 0}), /*keepDenseLayout=*/true);
  }
  const std::vector<int64_t> oihw = depthwise ? std::vector<int64_t>{f[2] * f[3], 1, f[0], f[1]}
                                              : std::vector<int64_t>{f[3], f[2], f[0], f[1]};
  xv = LowPrecisionOperand(xv);
  dyv = LowPrecisionOperand(dyv);
  const at::Tensor wLike = at::empty(oihw, xv.options());
  auto grads = at::convolution_backward(dyv, xv, wLike, /*bias_sizes=*/{}, s, plan.pad, d,
                                        /*transposed=*/false, /*output_padding=*/{0, 0},
                                        depthwise ? C : 1, {false, true, false});
  const at::Tensor gw = AsFloat32Result(std::get<1>(grads));
  // The HWIO result stays a view of the OIHW gradient in the layout the convolution used (OHWI
  // memory for channels_last, OIHW for contiguous): copying it to contiguous HWIO here and then
  // back for the next forward pass cost two transposing copies of every filter per training step
  // (about 20 ms for one 512x512 filter on 2 cores). The optimizer keeps that layout (ops_fused.cc).
  if (depthwise) return ReturnTensor(info.Env(), gw.reshape({f[2], f[3], f[0], f[1]}).permute({2, 3, 0, 1}));
  return ReturnTensor(info.Env(), gw.permute({2, 3, 1, 0}), /*keepDenseLayout=*/true);
}

void RegisterConvOps(Napi::Env env, Napi::Object exports) {
  TT_EXPORT(exports, env, NnConv2d);
  TT_EXPORT(exports, env, NnConv2dBackpropInput);
  TT_EXPORT(exports, env, NnConv2dBackpropFilter);
  RegisterWinogradOps(env, exports);
}

}  // namespace nn
}  // namespace tt
