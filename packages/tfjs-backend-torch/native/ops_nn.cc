// Neural-network ops other than conv/pool: FusedBatchNorm (+ the fused backward used by this
// backend's gradient override), ReLU's fused backward, BatchMatMul/_FusedMatMul, and the bilinear
// and nearest-neighbour resizes with their gradients. Also RegisterNnOps, the family's entry point.
#include "ops_common.h"
#include "ops_nn.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace tt {

namespace nn {
namespace {

// True when every present BN parameter is a vector over x's last (channel) axis: the case ATen's
// batch_norm handles natively. Other broadcastable shapes use the explicit formula.
bool PerChannel(const at::Tensor& x, std::initializer_list<const at::Tensor*> params) {
  if (x.dim() < 2) return false;
  const int64_t C = x.size(-1);
  for (const at::Tensor* t : params) {
    if (t->defined() && !(t->dim() == 1 && t->size(0) == C)) return false;
  }
  return true;
}

// [N, ..., C] -> [N, C, ...] view (channels_last strides for rank 4), and back.
at::Tensor ChannelsToDim1(const at::Tensor& t) { return t.dim() == 2 ? t : t.movedim(-1, 1); }
at::Tensor ChannelsToLast(const at::Tensor& t) { return t.dim() == 2 ? t : t.movedim(1, -1); }

at::Tensor AsFloat(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

// nnBatchNorm(x, mean, variance, offset|-1, scale|-1, varianceEpsilon) -> y
// tfjs: (x - mean) * scale * rsqrt(variance + eps) + offset, parameters broadcast against x.
TT_FN(NnBatchNorm) {
  const at::Tensor x = AsFloat(TensorArg(info, 0));
  const at::Tensor mean = AsFloat(TensorArg(info, 1));
  const at::Tensor var = AsFloat(TensorArg(info, 2));
  at::Tensor offset = OptTensorArg(info, 3);
  at::Tensor scale = OptTensorArg(info, 4);
  if (offset.defined()) offset = AsFloat(offset);
  if (scale.defined()) scale = AsFloat(scale);
  const double eps = DoubleArg(info, 5);
  at::Tensor y;
  if (PerChannel(x, {&mean, &var, &offset, &scale})) {
    y = ChannelsToLast(at::batch_norm(ChannelsToDim1(x), scale, offset, mean, var,
                                      /*training=*/false, 0.0, eps, /*cudnn_enabled=*/true));
  } else {
    y = (x - mean) * at::rsqrt(var + eps);
    if (scale.defined()) y = y * scale;
    if (offset.defined()) y = y + offset;
  }
  return ReturnTensor(info.Env(), y);
}

// nnBatchNormGrad(dy, x, mean, variance, scale|-1, varianceEpsilon) -> [dx, dScale, dOffset]
// One pass of ATen's inference-mode batch-norm backward, treating mean and variance as inputs
// (exactly tfjs's FusedBatchNorm gradient): dx = dy*scale*rsqrt(var+eps),
// dScale = sum(dy*(x-mean))*rsqrt(var+eps), dOffset = sum(dy), sums over all axes but the last.
// The mean/variance gradients follow from dScale and dOffset in TypeScript (per-channel work).
// Only valid for per-channel (rank-1) parameters; TypeScript checks that before calling.
TT_FN(NnBatchNormGrad) {
  const at::Tensor dy = AsFloat(TensorArg(info, 0));
  const at::Tensor x = AsFloat(TensorArg(info, 1));
  const at::Tensor mean = AsFloat(TensorArg(info, 2));
  const at::Tensor var = AsFloat(TensorArg(info, 3));
  at::Tensor scale = OptTensorArg(info, 4);
  const double eps = DoubleArg(info, 5);
  if (!PerChannel(x, {&mean, &var, &scale})) {
    throw std::runtime_error("nnBatchNormGrad: mean/variance/scale must be vectors over x's last axis");
  }
  scale = scale.defined() ? AsFloat(scale) : at::ones({x.size(-1)}, x.options());
  // train=false makes ATen use mean/var as given. The CPU kernel then ignores save_mean/save_invstd,
  // but the CUDA one asserts they are defined, so pass the same statistics in that form too.
  const at::Tensor invstd = at::rsqrt(var + eps);
  auto g = at::native_batch_norm_backward(ChannelsToDim1(dy), ChannelsToDim1(x), scale, mean, var,
                                          /*save_mean=*/mean, /*save_invstd=*/invstd, /*train=*/false, eps,
                                          {true, true, true});
  return ReturnTensors(info.Env(), {ChannelsToLast(std::get<0>(g)), std::get<1>(g), std::get<2>(g)});
}

// nnReluGrad(dy, x) -> dy where x > 0, else 0 (one kernel instead of tfjs's Step, Cast, Multiply).
TT_FN(NnReluGrad) {
  const at::Tensor dy = AsFloat(TensorArg(info, 0));
  const at::Tensor x = AsFloat(TensorArg(info, 1));
  return ReturnTensor(info.Env(), at::threshold_backward(dy, x, 0));
}

// nnLeakyReluGrad(dy, x, alpha) -> dy where x > 0, else alpha * dy (one kernel instead of tfjs's
// Greater, Multiply and Select; the purifiers' dense blocks run it on every activation).
TT_FN(NnLeakyReluGrad) {
  const at::Tensor dy = AsFloat(TensorArg(info, 0));
  const at::Tensor x = AsFloat(TensorArg(info, 1));
  const double alpha = info[2].As<Napi::Number>().DoubleValue();
  return ReturnTensor(info.Env(), at::leaky_relu_backward(dy, x, alpha, false));
}

// nnMatMul(a, b, transposeA, transposeB, bias|-1, preluWeights|-1, activation, leakyreluAlpha) -> y
// Batch dimensions broadcast (numpy rules in both libraries).
TT_FN(NnMatMul) {
  // cuBLAS has no integer GEMM: int32 products run in float64 there (exact below 2^53) and are
  // stored back as int32 the way tfjs does. ATen's CPU kernels multiply int32 directly.
  const bool intOnGpu = TensorArg(info, 0).is_cuda() && !at::isFloatingType(TensorArg(info, 0).scalar_type());
  const auto prep = [&](const at::Tensor& t) { return intOnGpu && t.defined() ? t.to(at::kDouble) : t; };
  const at::Tensor a0 = prep(TensorArg(info, 0));
  const at::Tensor b0 = prep(TensorArg(info, 1));
  const at::Tensor a = BoolArg(info, 2) ? a0.transpose(-2, -1) : a0;
  const at::Tensor b = BoolArg(info, 3) ? b0.transpose(-2, -1) : b0;
  const at::Tensor bias = prep(OptTensorArg(info, 4));
  const at::Tensor prelu = OptTensorArg(info, 5);
  // [.., M, K] x [.., K, N]: 2 * batch * M * K * N (batch from the larger operand).
  const double batch = static_cast<double>(std::max(a.numel() / std::max<int64_t>(1, a.size(-2) * a.size(-1)),
                                                    b.numel() / std::max<int64_t>(1, b.size(-2) * b.size(-1))));
  const SerialIfSmall serial(2.0 * batch * static_cast<double>(a.size(-2)) * static_cast<double>(a.size(-1)) *
                             static_cast<double>(b.size(-1)));
  const int32_t act = static_cast<int32_t>(IntArg(info, 6));
  const double alpha = DoubleArg(info, 7);
  at::Tensor y;
  if (bias.defined() && a.dim() == 2 && b.dim() == 2 && bias.scalar_type() == a.scalar_type() &&
      bias.dim() <= 1) {
    y = AsFloat32Result(at::addmm(LowPrecisionOperand(bias), LowPrecisionOperand(a), LowPrecisionOperand(b)));  // one BLAS call, bias as beta*C
  } else {
    y = AsFloat32Result(at::matmul(LowPrecisionOperand(a), LowPrecisionOperand(b)));
    if (bias.defined()) y = y + bias;
  }
  y = ApplyActivation(y, act, alpha, prelu);
  return ReturnTensor(info.Env(), intOnGpu ? JsInt(y) : y);
}

// ---- resize ---------------------------------------------------------------------------------

// tfjs's source-coordinate scale (tfjs-backend-cpu ResizeBilinear/ResizeNearestNeighbor).
double ResizeScale(int64_t in, int64_t out, bool alignCorners) {
  const bool ac = alignCorners && out > 1;
  return static_cast<double>(ac ? in - 1 : in) / static_cast<double>(ac ? out - 1 : out);
}

// Bilinear interpolation along one axis as a dense [out x in] matrix. tfjs's legacy mode
// (alignCorners=false, halfPixelCenters=false, the UpSampling2D default) matches no ATen mode
// (guide §4.2), so all three modes share this construction; the gradient is the transpose.
at::Tensor BilinearMatrix(int64_t out, int64_t in, bool alignCorners, bool halfPixel,
                          const at::TensorOptions& opts) {
  at::Tensor m = at::zeros({out, in}, at::TensorOptions().dtype(at::kFloat));
  float* p = m.data_ptr<float>();
  const double scale = ResizeScale(in, out, alignCorners);
  for (int64_t r = 0; r < out; ++r) {
    const double src = halfPixel ? scale * (static_cast<double>(r) + 0.5) - 0.5 : scale * r;
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(src)));
    const int64_t hi = std::min<int64_t>(in - 1, static_cast<int64_t>(std::ceil(src)));
    const double frac = src - static_cast<double>(lo);
    p[r * in + lo] += static_cast<float>(1.0 - frac);
    p[r * in + hi] += static_cast<float>(frac);
  }
  return m.to(opts.device());
}

// Nearest source index per output position, as tfjs computes it.
at::Tensor NearestIndex(int64_t out, int64_t in, bool alignCorners, bool halfPixel,
                        const at::TensorOptions& opts) {
  at::Tensor idx = at::empty({out}, at::TensorOptions().dtype(at::kLong));
  int64_t* p = idx.data_ptr<int64_t>();
  const double scale = ResizeScale(in, out, alignCorners);
  for (int64_t r = 0; r < out; ++r) {
    const double src = halfPixel ? scale * (static_cast<double>(r) + 0.5) : scale * r;
    // JS Math.round rounds halves up; src >= 0 here, where std::round (half away from 0) agrees.
    int64_t n = std::min<int64_t>(in - 1, static_cast<int64_t>(alignCorners ? std::round(src) : std::floor(src)));
    if (halfPixel) n = std::max<int64_t>(0, n);
    p[r] = n;
  }
  return idx.to(opts.device());
}

// out = A_h · X · A_wᵀ applied to NHWC x without any transpose: first over H with x viewed as
// [N, H, W*C], then over W with the result viewed as [N*outH, W, C].
at::Tensor Separable(const at::Tensor& x, const at::Tensor& ah, const at::Tensor& aw) {
  const int64_t N = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t oh = ah.size(0), ow = aw.size(0);
  at::Tensor t = at::matmul(ah, x.reshape({N, H, W * C}));           // [N, oh, W*C]
  t = at::matmul(aw, t.reshape({N * oh, W, C}));                     // [N*oh, ow, C]
  return t.reshape({N, oh, ow, C});
}

// nnResizeBilinear(images, newH, newW, alignCorners, halfPixelCenters) -> float32 NHWC
TT_FN(NnResizeBilinear) {
  const at::Tensor x = AsFloat(TensorArg(info, 0));
  const int64_t oh = IntArg(info, 1), ow = IntArg(info, 2);
  const bool ac = BoolArg(info, 3), hp = BoolArg(info, 4);
  const at::Tensor ah = BilinearMatrix(oh, x.size(1), ac, hp, x.options());
  const at::Tensor aw = BilinearMatrix(ow, x.size(2), ac, hp, x.options());
  return ReturnTensor(info.Env(), Separable(x, ah, aw));
}

// nnResizeBilinearGrad(dy, images, alignCorners) -> d images (float32)
// tfjs's gradient kernel maps coordinates as in the forward pass *without* half-pixel centers,
// whatever the forward used; we reproduce that (it is the exact adjoint in the other two modes).
TT_FN(NnResizeBilinearGrad) {
  const at::Tensor dy = AsFloat(TensorArg(info, 0));
  const at::Tensor& x = TensorArg(info, 1);
  const bool ac = BoolArg(info, 2);
  const at::Tensor ah = BilinearMatrix(dy.size(1), x.size(1), ac, false, dy.options());
  const at::Tensor aw = BilinearMatrix(dy.size(2), x.size(2), ac, false, dy.options());
  return ReturnTensor(info.Env(), Separable(dy, ah.t(), aw.t()));
}

// nnResizeNearest(images, newH, newW, alignCorners, halfPixelCenters) -> same dtype NHWC
TT_FN(NnResizeNearest) {
  const at::Tensor& x = TensorArg(info, 0);
  const int64_t oh = IntArg(info, 1), ow = IntArg(info, 2);
  const bool ac = BoolArg(info, 3), hp = BoolArg(info, 4);
  const at::Tensor rows = NearestIndex(oh, x.size(1), ac, hp, x.options());
  const at::Tensor cols = NearestIndex(ow, x.size(2), ac, hp, x.options());
  return ReturnTensor(info.Env(), x.index_select(1, rows).index_select(2, cols));
}

// nnResizeNearestGrad(dy, images, alignCorners) -> d images (float32): every dy element is added
// to the pixel it was copied from. As in tfjs's kernel, the mapping ignores halfPixelCenters.
TT_FN(NnResizeNearestGrad) {
  const at::Tensor dy = AsFloat(TensorArg(info, 0));
  const at::Tensor& x = TensorArg(info, 1);
  const bool ac = BoolArg(info, 2);
  const int64_t N = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const at::Tensor rows = NearestIndex(dy.size(1), H, ac, false, dy.options());
  const at::Tensor cols = NearestIndex(dy.size(2), W, ac, false, dy.options());
  at::Tensor gw = at::zeros({N, dy.size(1), W, C}, dy.options()).index_add_(2, cols, dy);
  at::Tensor gx = at::zeros({N, H, W, C}, dy.options()).index_add_(1, rows, gw);
  return ReturnTensor(info.Env(), gx);
}

}  // namespace
}  // namespace nn

void RegisterNnOps(Napi::Env env, Napi::Object exports) {
  using namespace nn;
  RegisterConvOps(env, exports);
  RegisterPoolOps(env, exports);
  TT_EXPORT(exports, env, NnBatchNorm);
  TT_EXPORT(exports, env, NnBatchNormGrad);
  TT_EXPORT(exports, env, NnReluGrad);
  TT_EXPORT(exports, env, NnLeakyReluGrad);
  TT_EXPORT(exports, env, NnMatMul);
  TT_EXPORT(exports, env, NnResizeBilinear);
  TT_EXPORT(exports, env, NnResizeBilinearGrad);
  TT_EXPORT(exports, env, NnResizeNearest);
  TT_EXPORT(exports, env, NnResizeNearestGrad);
}

}  // namespace tt
