// Element-wise kernels: unary math, binary arithmetic with numpy broadcasting (same rules as tfjs),
// comparisons, logical ops, Cast, ClipByValue, Select and AddN.
//
// tfjs semantics that ATen does not share (guide §4.2), handled here once for every op:
//  * a tfjs kernel on int32/bool inputs computes in double and stores into an Int32Array, so
//    results are truncated and NaN/Infinity become 0 (ToInt32). ATen instead throws (integer
//    division by zero, negative int powers) or promotes (int / int -> float). So every
//    non-float result is computed in float64 and converted with JsInt() below.
//  * the output dtype is decided in TypeScript (tfjs's upcastType rules) and passed as a code.
#include "context.h"
#include "ops_common.h"
#include "op_codes.h"

namespace tt {

at::Tensor JsInt(const at::Tensor& t) {
  if (!at::isFloatingType(t.scalar_type())) return t.to(at::kInt);
  at::Tensor d = t.to(at::kDouble);
  d = at::where(at::isfinite(d), at::trunc(d), at::zeros({}, d.options()));
  // ToInt32 wraps modulo 2^32, like an Int32Array store.
  constexpr double k32 = 4294967296.0;
  d = d - k32 * at::floor(d / k32);
  d = at::where(d >= 2147483648.0, d - k32, d);
  return d.to(at::kInt);
}

at::Tensor ToOut(const at::Tensor& t, at::ScalarType out) {
  if (t.scalar_type() == out) return t;
  if (out == at::kBool) return t.ne(0);
  if (out == at::kInt) return JsInt(t);
  return t.to(out);
}

namespace {

enum UnaryOp : int { TT_UNARY_OPS(TT_OP_ENUM) };

at::Tensor UnaryFloat(int op, const at::Tensor& x, double alpha) {
  switch (op) {
    case kNeg: return at::neg(x);
    case kExp: return at::exp(x);
    case kLog: return at::log(x);
    case kLog1p: return at::log1p(x);
    case kSqrt: return at::sqrt(x);
    case kRsqrt: return at::rsqrt(x);
    case kSquare: return at::square(x);
    case kAbs: return at::abs(x);
    // tfjs: sign(NaN) = 0.
    case kSign: return at::where(at::isnan(x), at::zeros({}, x.options()), at::sign(x));
    case kFloor: return at::floor(x);
    case kCeil: return at::ceil(x);
    case kRound: return at::round(x);  // half to even, like tfjs
    case kSigmoid: return at::sigmoid(x);
    case kTanh: return at::tanh(x);
    case kRelu: return at::relu(x);
    case kRelu6: return at::clamp(x, 0, 6);
    // One vectorised kernel for floats (ATen's x > 0 ? x : alpha * x is the same map, -0 and NaN
    // included); the where() composition allocated three temporaries (NRP/JATP dense blocks).
    case kLeakyRelu: return at::isFloatingType(x.scalar_type()) ? at::leaky_relu(x, alpha) : at::where(x < 0, x * alpha, x);
    case kElu: return at::where(x >= 0, x, at::expm1(x));
    // tfjs: NaN stays NaN, x > 0 -> 1, else alpha.
    case kStep: return at::where(at::isnan(x), x, at::where(x > 0, at::ones({}, x.options()), at::full({}, alpha, x.options())));
    case kIsNan: return at::isnan(x);
    case kIsInf: return at::isinf(x);
    case kIsFinite: return at::isfinite(x);
    case kCos: return at::cos(x);
    case kSin: return at::sin(x);
    // CUDA's single-precision tan is off by several ulps for large arguments (tfjs's suite checks
    // tan(~1e5) to 1e-3 absolute); evaluate it in double there, as the CPU reference effectively does.
    case kTan: return x.is_cuda() && x.scalar_type() == at::kFloat ? at::tan(x.to(at::kDouble)).to(at::kFloat) : at::tan(x);
    case kAcos: return at::acos(x);
    case kAsin: return at::asin(x);
    case kAtan: return at::atan(x);
    case kCosh: return at::cosh(x);
    case kSinh: return at::sinh(x);
    case kAcosh: return at::acosh(x);
    case kAsinh: return at::asinh(x);
    case kAtanh: return at::atanh(x);
    case kErf: return at::erf(x);
    case kSoftplus: {
      // tfjs's thresholds (float32 epsilon based) rather than ATen's beta/threshold form.
      const double threshold = std::log(1.1920928955078125e-7) + 2.0;
      at::Tensor mid = at::log1p(at::exp(x));
      return at::where(x > -threshold, x, at::where(x < threshold, at::exp(x), mid));
    }
    case kExpm1: return at::expm1(x);
    case kReciprocal: return at::reciprocal(x);
    case kSelu: return at::selu(x);
    case kLogicalNot: return x.eq(0);
    case kZerosLike: return at::zeros_like(x);
    case kOnesLike: return at::ones_like(x);
    default: throw std::runtime_error("unary: unknown op " + std::to_string(op));
  }
}

// unary(op, x, alpha, outDtype)
TT_FN(Unary) {
  const int op = static_cast<int>(IntArg(info, 0));
  const at::Tensor& x = TensorArg(info, 1);
  const double alpha = DoubleArg(info, 2);
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 3)));
  if (op == kZerosLike) return ReturnTensor(info.Env(), at::zeros_like(x, x.options().dtype(out)));
  if (op == kOnesLike) return ReturnTensor(info.Env(), at::ones_like(x, x.options().dtype(out)));
  if (op == kLogicalNot && x.scalar_type() == at::kBool) return ReturnTensor(info.Env(), at::logical_not(x));
  if (x.scalar_type() == at::kFloat) return ReturnTensor(info.Env(), ToOut(UnaryFloat(op, x, alpha), out));
  return ReturnTensor(info.Env(), ToOut(UnaryFloat(op, x.to(at::kDouble), alpha), out));
}

enum BinaryOp : int { TT_BINARY_OPS(TT_OP_ENUM) };

at::Tensor BinaryFloat(int op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case kAdd: return at::add(a, b);
    case kSub: return at::sub(a, b);
    case kMultiply: return at::mul(a, b);
    case kRealDiv: return at::div(a, b);
    // floor(a / b) as tfjs computes it (ATen's floor mode follows Python's fmod-based rule).
    case kFloorDiv: return at::floor(at::div(a, b));
    case kMod: {
      // tfjs: r = a % b, corrected toward the divisor's sign only when the signs differ.
      at::Tensor r = at::fmod(a, b);
      at::Tensor same = at::logical_or(at::logical_and(a < 0, b < 0), at::logical_and(a >= 0, b >= 0));
      return at::where(same, r, at::fmod(r + b, b));
    }
    case kMaximum: return at::maximum(a, b);
    case kMinimum: return at::minimum(a, b);
    case kPow: return at::pow(a, b);
    case kSquaredDifference: return at::square(a - b);
    case kAtan2: return at::atan2(a, b);
    case kEluGrad: return at::where(b >= 0, a, a * (b + 1));  // (dy, y)
    case kPrelu: return at::where(a < 0, a * b, a);            // (x, alpha)
    default: throw std::runtime_error("binary: unknown op " + std::to_string(op));
  }
}

at::Tensor Compare(int op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case kEqual: return at::eq(a, b);
    case kNotEqual: return at::ne(a, b);
    case kGreater: return at::gt(a, b);
    case kGreaterEqual: return at::ge(a, b);
    case kLess: return at::lt(a, b);
    case kLessEqual: return at::le(a, b);
    case kLogicalAnd: return at::logical_and(a, b);
    case kLogicalOr: return at::logical_or(a, b);
    case kLogicalXor: return at::logical_xor(a, b);
    default: throw std::runtime_error("binary: unknown op " + std::to_string(op));
  }
}

at::Tensor BinaryImpl(int op, const at::Tensor& a, const at::Tensor& b, at::ScalarType out) {
  if (op >= kEqual) return Compare(op, a, b);
  if (out == at::kFloat) {
    const at::Tensor& af = a.scalar_type() == at::kFloat ? a : a.to(at::kFloat);
    const at::Tensor& bf = b.scalar_type() == at::kFloat ? b : b.to(at::kFloat);
    return BinaryFloat(op, af, bf);
  }
  // Exact for int32 + - max min (ATen's wrap-around equals ToInt32 of the exact result).
  if (out == at::kInt && a.scalar_type() == at::kInt && b.scalar_type() == at::kInt &&
      (op == kAdd || op == kSub || op == kMaximum || op == kMinimum)) {
    return BinaryFloat(op, a, b);
  }
  const at::Tensor ad = a.to(at::kDouble), bd = b.to(at::kDouble);
  if (op == kPow && out == at::kInt) {
    // An integer to a non-negative integer power is an integer, but a GPU's pow(double) may land
    // one ulp below it (-2.9999999999999996 for -3), which truncation would turn into -2.
    const at::Tensor r = at::pow(ad, bd);
    return ToOut(at::where(bd >= 0, at::round(r), r), out);
  }
  return ToOut(BinaryFloat(op, ad, bd), out);
}

// binary(op, a, b, outDtype)
TT_FN(Binary) {
  const int op = static_cast<int>(IntArg(info, 0));
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 3)));
  return ReturnTensor(info.Env(), BinaryImpl(op, TensorArg(info, 1), TensorArg(info, 2), out));
}

// binaryScalar(op, x, value, scalarFirst, scalarDtype, outDtype): one operand is a rank-0 tensor
// whose value is still in JS (tfjs makes one for every `mul(x, 2)`): it becomes a 0-dim tensor on
// x's device without going through the handle table (no upload, no host sync on a GPU).
TT_FN(BinaryScalar) {
  const int op = static_cast<int>(IntArg(info, 0));
  const at::Tensor& x = TensorArg(info, 1);
  const double value = DoubleArg(info, 2);
  const bool scalarFirst = BoolArg(info, 3);
  const at::ScalarType sdt = ToScalarType(static_cast<int32_t>(IntArg(info, 4)));
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 5)));
  at::Tensor s = at::scalar_tensor(value, x.options().dtype(sdt == at::kBool ? at::kDouble : sdt));
  if (sdt == at::kBool) s = s.ne(0);
  return ReturnTensor(info.Env(), scalarFirst ? BinaryImpl(op, s, x, out) : BinaryImpl(op, x, s, out));
}

// cast(x, dtype): JS conversions (NaN -> 0 and truncation for int, x != 0 for bool).
TT_FN(Cast) {
  const at::Tensor& x = TensorArg(info, 0);
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 1)));
  if (x.scalar_type() == out) return ReturnTensor(info.Env(), x.clone());
  return ReturnTensor(info.Env(), ToOut(x, out));
}

// clip(x, min, max): tfjs keeps NaN, like at::clamp.
TT_FN(Clip) {
  const at::Tensor& x = TensorArg(info, 0);
  const double lo = DoubleArg(info, 1), hi = DoubleArg(info, 2);
  if (x.scalar_type() == at::kFloat) return ReturnTensor(info.Env(), at::clamp(x, lo, hi));
  return ReturnTensor(info.Env(), ToOut(at::clamp(x.to(at::kDouble), lo, hi), x.scalar_type()));
}

// select(cond, t, e, outDtype): tfjs allows a rank-1 condition selecting along dim 0 (guide §4.2).
TT_FN(Select) {
  at::Tensor c = TensorArg(info, 0);
  const at::Tensor& t = TensorArg(info, 1);
  const at::Tensor& e = TensorArg(info, 2);
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 3)));
  if (c.scalar_type() != at::kBool) c = c.ne(0);
  if (c.dim() == 1 && t.dim() > 1) {
    std::vector<int64_t> shape(t.dim(), 1);
    shape[0] = c.size(0);
    c = c.reshape(shape);
  }
  return ReturnTensor(info.Env(), ToOut(at::where(c, t.to(out), e.to(out)), out));
}

// addN([handles], outDtype)
TT_FN(AddN) {
  std::vector<at::Tensor> xs = TensorListArg(info, 0);
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 1)));
  if (xs.empty()) throw std::runtime_error("addN: no inputs");
  at::Tensor acc = xs[0].to(out == at::kBool ? at::kInt : out).clone();
  for (size_t i = 1; i < xs.size(); ++i) acc.add_(xs[i]);
  return ReturnTensor(info.Env(), ToOut(acc, out));
}

}  // namespace

void RegisterElementwise(Napi::Env env, Napi::Object exports) {
  TT_EXPORT(exports, env, Unary);
  TT_EXPORT(exports, env, Binary);
  TT_EXPORT(exports, env, BinaryScalar);
  TT_EXPORT(exports, env, Cast);
  TT_EXPORT(exports, env, Clip);
  TT_EXPORT(exports, env, Select);
  TT_EXPORT(exports, env, AddN);
}

}  // namespace tt
