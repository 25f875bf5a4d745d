// Reductions (Sum, Mean, Max, Min, Prod, Any, All), ArgMax/ArgMin, Cumsum/Cumprod, Softmax, TopK.
//
// Traps (guide §4.2): ATen sums int32 into int64 and returns int64 indices (Put narrows them back to
// int32); an empty axis list means "reduce everything" in ATen but "reduce nothing" in tfjs; ATen
// cannot take the mean of an int tensor while tfjs returns float32.
#include "context.h"
#include "ops_common.h"
#include "op_codes.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace tt {
namespace {

enum ReduceOp : int { TT_REDUCE_OPS(TT_OP_ENUM) };

// Reduces over `axes` by moving them to the end and flattening them into one dimension: for the
// ATen ops that take a single dim only (prod, any, all).
at::Tensor ReduceFlat(const at::Tensor& x, const std::vector<int64_t>& axes, bool keepDims,
                      const std::function<at::Tensor(const at::Tensor&)>& f) {
  const int64_t rank = x.dim();
  std::vector<bool> reduced(rank, false);
  for (int64_t a : axes) reduced[a] = true;
  std::vector<int64_t> perm, keepShape, outShape;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[d]) { perm.push_back(d); keepShape.push_back(x.size(d)); }
    outShape.push_back(reduced[d] ? 1 : x.size(d));
  }
  for (int64_t d = 0; d < rank; ++d) if (reduced[d]) perm.push_back(d);
  std::vector<int64_t> flatShape = keepShape;
  flatShape.push_back(-1);
  at::Tensor r = f(x.permute(perm).reshape(flatShape));
  return keepDims ? r.reshape(outShape) : r.reshape(keepShape);
}

// reduce(op, x, axes, keepDims)
TT_FN(Reduce) {
  const int op = static_cast<int>(IntArg(info, 0));
  const at::Tensor& x = TensorArg(info, 1);
  std::vector<int64_t> axes = IntListArg(info, 2);
  const bool keepDims = BoolArg(info, 3);
  const at::ScalarType dt = x.scalar_type();
  const bool isFloat = dt == at::kFloat;
  for (int64_t& a : axes) a = NormAxis(a, x.dim());
  if (axes.empty()) {
    // tfjs: no axes = no reduction (the result still takes the reduction's dtype).
    at::ScalarType out = dt;
    if (op == kSum || op == kProd) out = isFloat ? at::kFloat : at::kInt;
    if (op == kMean) out = at::kFloat;
    if (op == kAny || op == kAll) out = at::kBool;
    return ReturnTensor(info.Env(), ToOut(x, out).clone());
  }
  at::Tensor r;
  switch (op) {
    case kSum:
      r = isFloat ? at::sum(x, axes, keepDims) : at::sum(x, axes, keepDims, at::kInt);
      break;
    case kMean:
      r = at::mean(isFloat ? x : x.to(at::kFloat), axes, keepDims);
      break;
    case kMax: case kMin: {
      at::Tensor xx = dt == at::kBool ? x.to(at::kByte) : x;
      r = op == kMax ? at::amax(xx, axes, keepDims) : at::amin(xx, axes, keepDims);
      if (dt == at::kBool) r = r.ne(0);
      break;
    }
    case kProd: {
      at::ScalarType acc = isFloat ? at::kFloat : at::kInt;
      r = ReduceFlat(x, axes, keepDims, [acc](const at::Tensor& t) { return at::prod(t, -1, false, acc); });
      break;
    }
    case kAny: case kAll: {
      at::Tensor xb = dt == at::kBool ? x : x.ne(0);
      r = ReduceFlat(xb, axes, keepDims, [op](const at::Tensor& t) { return op == kAny ? t.any(-1) : t.all(-1); });
      break;
    }
    default: throw std::runtime_error("reduce: unknown op " + std::to_string(op));
  }
  return ReturnTensor(info.Env(), r);
}

// argReduce(isMin, x, axis): ties go to the first index, as in tfjs.
TT_FN(ArgReduce) {
  const bool isMin = BoolArg(info, 0);
  const at::Tensor& x = TensorArg(info, 1);
  const int64_t axis = NormAxis(IntArg(info, 2), x.dim());
  at::Tensor xx = x.scalar_type() == at::kBool ? x.to(at::kByte) : x;
  if (!at::isFloatingType(xx.scalar_type()) || xx.size(axis) == 0) {
    return ReturnTensor(info.Env(), (isMin ? at::argmin(xx, axis) : at::argmax(xx, axis)).to(at::kInt));
  }
  // tfjs scans with `value > best` from element 0: a NaN is never picked, unless it is element 0
  // (then nothing compares greater and index 0 stays). ATen would pick the NaN.
  const double fill = isMin ? INFINITY : -INFINITY;
  at::Tensor clean = at::where(at::isnan(xx), at::full({}, fill, xx.options()), xx);
  at::Tensor r = isMin ? at::argmin(clean, axis) : at::argmax(clean, axis);
  r = at::where(at::isnan(xx.select(axis, 0)), at::zeros({}, r.options()), r);
  return ReturnTensor(info.Env(), r.to(at::kInt));
}

// cumulative(x, axis, exclusive, reverse, isProd): tfjs's Cumsum/Cumprod.
TT_FN(Cumulative) {
  at::Tensor x = TensorArg(info, 0);
  const int64_t axis = NormAxis(IntArg(info, 1), x.dim());
  const bool exclusive = BoolArg(info, 2);
  const bool reverse = BoolArg(info, 3);
  const bool isProd = BoolArg(info, 4);
  const at::ScalarType out = x.scalar_type() == at::kFloat ? at::kFloat : at::kInt;
  if (reverse) x = x.flip({axis});
  at::Tensor r = isProd ? at::cumprod(x, axis, out) : at::cumsum(x, axis, out);
  if (exclusive) {
    const int64_t n = r.size(axis);
    at::Tensor first = at::full_like(r.narrow(axis, 0, std::min<int64_t>(n, 1)), isProd ? 1 : 0);
    r = n == 0 ? r : at::cat({first, r.narrow(axis, 0, n - 1)}, axis);
  }
  if (reverse) r = r.flip({axis});
  return ReturnTensor(info.Env(), r);
}

// softmax(x, dim)
TT_FN(Softmax) {
  const at::Tensor& x = TensorArg(info, 0);
  return ReturnTensor(info.Env(), at::softmax(x, NormAxis(IntArg(info, 1), x.dim())));
}

// topk(x, k): [values, indices] along the last axis, sorted descending; ties keep the lower index
// first like tfjs (a stable sort, since at::topk's tie order is unspecified).
TT_FN(TopK) {
  const at::Tensor& x = TensorArg(info, 0);
  const int64_t k = IntArg(info, 1);
  at::Tensor xx = x.scalar_type() == at::kBool ? x.to(at::kByte) : x;
  auto sorted = at::sort(xx, /*stable=*/true, /*dim=*/-1, /*descending=*/true);
  at::Tensor values = std::get<0>(sorted).narrow(-1, 0, k);
  at::Tensor indices = std::get<1>(sorted).narrow(-1, 0, k).to(at::kInt);
  if (x.scalar_type() == at::kBool) values = values.ne(0);
  return ReturnTensors(info.Env(), {values, indices});
}

// unsortedSegmentSum(x, segmentIds, numSegments): out[s] = sum of x[k] with segmentIds[k] == s, for
// rank-1 segment ids (the gradient of GatherV2 along axis 0). Ids outside [0, numSegments) are
// dropped, as the cpu kernel's equality masks do.
TT_FN(UnsortedSegmentSum) {
  const at::Tensor& x = TensorArg(info, 0);
  at::Tensor seg = TensorArg(info, 1).to(at::kLong).reshape({-1});
  const int64_t n = IntArg(info, 2);
  std::vector<int64_t> outShape = x.sizes().vec();
  outShape[0] = n;
  at::Tensor x2 = x.to(at::kFloat).reshape({x.size(0), -1});
  at::Tensor valid = at::logical_and(seg >= 0, seg < n);
  if (!valid.all().item<bool>()) {
    at::Tensor keep = at::nonzero(valid).reshape({-1});
    seg = seg.index_select(0, keep);
    x2 = x2.index_select(0, keep);
  }
  at::Tensor out = at::zeros({n, x2.size(1)}, x2.options());
  out.index_add_(0, seg, x2);
  return ReturnTensor(info.Env(), out.reshape(outShape));
}

}  // namespace

void RegisterReduce(Napi::Env env, Napi::Object exports) {
  TT_EXPORT(exports, env, Reduce);
  TT_EXPORT(exports, env, ArgReduce);
  TT_EXPORT(exports, env, Cumulative);
  TT_EXPORT(exports, env, Softmax);
  TT_EXPORT_AS(exports, env, "topk", TopK);
  TT_EXPORT(exports, env, UnsortedSegmentSum);
}

}  // namespace tt
