// Helpers shared by the neural-network op files (ops_conv.cc, ops_pool.cc, ops_nn.cc).
//
// Layout policy (engine guide §4.1): every stored tensor is contiguous in tfjs's logical layout
// (NHWC images, HWIO filters). ATen wants NCHW/OIHW, so kernels build *views* with permute(); an
// NHWC-contiguous tensor viewed as NCHW is exactly a channels_last tensor, ATen's conv/pool/BN
// kernels keep that format for their outputs, and permuting the result back to NHWC is then free
// (Put() sees an already-contiguous tensor).
#pragma once

#include "context.h"
#include "op_codes.h"

#include <array>
#include <cstdint>
#include <vector>

namespace tt {
namespace nn {

// NHWC (stored) -> NCHW view (channels_last strides), and back.
inline at::Tensor ToNCHW(const at::Tensor& nhwc) { return nhwc.permute({0, 3, 1, 2}); }
inline at::Tensor ToNHWC(const at::Tensor& nchw) { return nchw.permute({0, 2, 3, 1}); }

// A handle argument that may be absent (-1 from JS): an undefined tensor, which ATen ops taking
// optional<Tensor> treat as "not given".
inline at::Tensor OptTensorArg(const Napi::CallbackInfo& info, size_t i) {
  const int32_t h = info[i].As<Napi::Number>().Int32Value();
  return h < 0 ? at::Tensor() : Get(h);
}

// Four explicit pads in tfjs's order [top, bottom, left, right] (computeConv2DInfo's padInfo).
struct Pads {
  int64_t top, bottom, left, right;
  bool Symmetric() const { return top == bottom && left == right; }
  bool Zero() const { return top == 0 && bottom == 0 && left == 0 && right == 0; }
};

inline Pads PadsArg(const Napi::CallbackInfo& info, size_t i) {
  std::vector<int64_t> p = IntListArg(info, i);
  if (p.size() != 4) throw std::runtime_error("expected 4 pads [top, bottom, left, right]");
  return Pads{p[0], p[1], p[2], p[3]};
}

inline std::vector<int64_t> Pair(const Napi::CallbackInfo& info, size_t i, const char* what) {
  std::vector<int64_t> v = IntListArg(info, i);
  if (v.size() != 2) throw std::runtime_error(std::string("expected 2 values for ") + what);
  return v;
}

// Pads an NCHW tensor's spatial dims (constant_pad_nd's list starts from the last dim).
inline at::Tensor PadSpatial(const at::Tensor& nchw, const Pads& p, double value) {
  return at::constant_pad_nd(nchw, {p.left, p.right, p.top, p.bottom}, value);
}

// Crops the spatial dims of an NCHW tensor back to [top, top+h) x [left, left+w).
inline at::Tensor CropSpatial(const at::Tensor& nchw, const Pads& p, int64_t h, int64_t w) {
  return nchw.slice(2, p.top, p.top + h).slice(3, p.left, p.left + w);
}

// How to run one tfjs window geometry on ATen.
struct Plan {
  bool direct;                // ATen's symmetric padding {top, left} reproduces tfjs's windows
  std::vector<int64_t> pad;   // the padding to give ATen
  Pads pre;                   // when !direct: pads to apply to the input first (may be negative)
};

// Decides between ATen's symmetric padding and an explicit pre-pad (ops_conv.cc).
Plan MakePlan(int64_t H, int64_t W, int64_t outH, int64_t outW, const Pads& p, int64_t kh,
              int64_t kw, const std::vector<int64_t>& s, const std::vector<int64_t>& d,
              bool poolLimit);

// Undoes PadSpatial(x, pre, ...) on a gradient (negative pads crop, positive ones restore zeros).
inline at::Tensor Unpad(const at::Tensor& nchw, const Pads& pre) {
  return at::constant_pad_nd(nchw, {-pre.left, -pre.right, -pre.top, -pre.bottom}, 0.0);
}

// Fused activations of tfjs's FusedConv2D / _FusedMatMul (tfjs-core ops/fused_util applyActivation).
enum Activation : int32_t { TT_ACTIVATIONS(TT_OP_ENUM) };

inline at::Tensor ApplyActivation(at::Tensor y, int32_t act, double alpha, const at::Tensor& prelu) {
  switch (act) {
    case kLinear: return y;
    case kRelu: return at::relu(y);
    case kRelu6: return at::clamp(y, 0.0, 6.0);
    case kElu: return at::elu(y);
    case kSigmoid: return at::sigmoid(y);
    case kLeakyRelu: return at::leaky_relu(y, alpha);
    case kPrelu:
      // tfjs prelu: x < 0 ? alpha * x : x, alpha broadcast against x (numpy rules, as in ATen).
      if (!prelu.defined()) throw std::runtime_error("prelu activation needs preluActivationWeights");
      return at::where(y < 0, y * prelu, y);
    default: throw std::runtime_error("unknown fused activation code " + std::to_string(act));
  }
}

// Winograd 3x3 convolutions through oneDNN (ops_conv_winograd.cc). Each returns false, leaving
// the output untouched, when it does not handle the call (no oneDNN at build time, switched off,
// bf16 precision, not a 3x3 stride-1 'same' convolution with channel counts divisible by 16 on a
// map of 8x8 or more, or a shape oneDNN rejects); the caller then runs the direct convolution.
// Tensors are NCHW views (any strides); filters are tfjs HWIO tensors, `filterHandle` their
// handle (or -1) so the transformed filter can be cached with it.
bool WinogradConvForward(const at::Tensor& x, const at::Tensor& hwio, int32_t filterHandle,
                         const at::Tensor& bias, const std::vector<int64_t>& strides,
                         const std::vector<int64_t>& pad, const std::vector<int64_t>& dilations, at::Tensor* y);
bool WinogradConvBackwardInput(const at::Tensor& dy, const at::Tensor& hwio, int32_t filterHandle,
                               int64_t N, int64_t C, int64_t H, int64_t W, at::MemoryFormat format,
                               const std::vector<int64_t>& strides, const std::vector<int64_t>& pad,
                               const std::vector<int64_t>& dilations, at::Tensor* dx);
// gwOihw: the filter gradient as OIHW in OHWI memory (channels_last), like the direct path's.
bool WinogradConvBackwardFilter(const at::Tensor& x, const at::Tensor& dy, const std::vector<int64_t>& hwioShape,
                                const std::vector<int64_t>& strides, const std::vector<int64_t>& pad,
                                const std::vector<int64_t>& dilations, at::Tensor* gwOihw);

void RegisterConvOps(Napi::Env env, Napi::Object exports);
void RegisterWinogradOps(Napi::Env env, Napi::Object exports);
void RegisterPoolOps(Napi::Env env, Napi::Object exports);

}  // namespace nn
}  // namespace tt
