// Fused calls that replace long chains of small tfjs kernels (issue "speed"): training-mode batch
// norm forward and backward, optimizer updates over every variable of a group in one call, and
// the L-infinity attack steps of PGD and APGD (sign step, projection onto the eps-ball, clamp to
// the valid range; APGD's momentum combination).
//
// The tensors in the handle table never change in place (context.h), so every "update" here
// returns new tensors and TypeScript assigns them to its variables.
#include "batch_norm_cpu.h"
#include "ops_common.h"
#include "ops_nn.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace tt {
namespace nn {
namespace {

at::Tensor Float(const at::Tensor& t) { return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat); }
at::Tensor ChannelsFirst(const at::Tensor& t) { return t.dim() == 2 ? t : t.movedim(-1, 1); }
at::Tensor ChannelsBack(const at::Tensor& t) { return t.dim() == 2 ? t : t.movedim(1, -1); }

// ATen's CPU batch norm over channels-last data (what NHWC tensors are, seen as NCHW) sums each
// channel's statistics and gradient terms in float32: the error grows with sqrt(N·H·W) (about 1e-5
// relative at 25k values per channel), and the input gradient, a difference of nearly equal terms
// when dy is almost affine in the normalised x (as at initialisation), loses far more. On the CPU
// the engine's own loops (batch_norm_cpu.cc) therefore keep every sum in float64 and round once at
// the end; they agree with a float64 reference to float32 rounding, like tfjs's own composition.
// TFJS_TORCH_ATEN_BATCH_NORM=1 at load runs ATen's kernel on float64 copies instead (the same
// digits, about twice the memory traffic; kept for A/B benchmarks). CUDA reduces in a tree and
// keeps float32.
bool g_ownBatchNorm = [] {
  const char* v = std::getenv("TFJS_TORCH_ATEN_BATCH_NORM");
  return v == nullptr || std::strcmp(v, "1") != 0;
}();

bool OwnBatchNorm(const at::Tensor& x) { return g_ownBatchNorm && x.device().is_cpu(); }

// A per-channel vector as contiguous float32 on x's device, or undefined.
at::Tensor Channel(const at::Tensor& t) { return t.defined() ? Float(t).contiguous() : t; }
const float* DataOrNull(const at::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

at::Tensor Exact(const at::Tensor& t) {
  if (!t.defined()) return t;
  return t.device().is_cpu() ? t.to(at::kDouble) : Float(t);
}

void CheckPerChannel(const char* fn, const at::Tensor& x, const at::Tensor& t, const char* what) {
  if (t.defined() && !(t.dim() == 1 && t.size(0) == x.size(-1))) {
    throw std::runtime_error(std::string(fn) + ": " + what + " must be a vector over x's last axis");
  }
}

// nnBatchNormTrain(x, scale|-1, offset|-1, runningMean|-1, runningVariance|-1, momentum, eps)
//   -> [y, batchMean, batchInvStd, newRunningMean?, newRunningVariance?]
// Normalises with the batch's own statistics (biased variance), like PyTorch's BatchNorm in
// training mode, in one pass. The running statistics, when given, are updated PyTorch's way:
// r <- (1 - momentum) r + momentum * batchStat, with the unbiased batch variance.
TT_FN(NnBatchNormTrain) {
  const at::Tensor x = Float(TensorArg(info, 0));
  if (x.dim() < 2) throw std::runtime_error("nnBatchNormTrain: x must have rank >= 2");
  const at::Tensor scale = OptTensorArg(info, 1);
  const at::Tensor offset = OptTensorArg(info, 2);
  const at::Tensor runMean = OptTensorArg(info, 3);
  const at::Tensor runVar = OptTensorArg(info, 4);
  const double momentum = DoubleArg(info, 5);
  const double eps = DoubleArg(info, 6);
  for (auto [t, what] : {std::pair{&scale, "scale"}, {&offset, "offset"}, {&runMean, "runningMean"},
                         {&runVar, "runningVariance"}}) {
    CheckPerChannel("nnBatchNormTrain", x, *t, what);
  }
  if (runMean.defined() != runVar.defined()) {
    throw std::runtime_error("nnBatchNormTrain: give both running statistics or neither");
  }
  if (OwnBatchNorm(x)) {
    const at::Tensor xc = x.contiguous();
    const int64_t channels = x.size(-1);
    const int64_t rows = channels == 0 ? 0 : xc.numel() / channels;
    const at::Tensor sc = Channel(scale), of = Channel(offset);
    at::Tensor y = at::empty(x.sizes(), x.options());
    at::Tensor mean = at::empty({channels}, x.options());
    at::Tensor invstd = at::empty({channels}, x.options());
    at::Tensor exactMean = at::empty({channels}, x.options().dtype(at::kDouble));
    at::Tensor unbiasedVar = at::empty({channels}, x.options().dtype(at::kDouble));
    BatchNormTrainForwardCpu(xc.data_ptr<float>(), rows, channels, DataOrNull(sc), DataOrNull(of), eps,
                             y.data_ptr<float>(), mean.data_ptr<float>(), invstd.data_ptr<float>(),
                             exactMean.data_ptr<double>(), unbiasedVar.data_ptr<double>());
    std::vector<at::Tensor> outs = {y, mean, invstd};
    if (runMean.defined()) {
      // r <- (1 - momentum) r + momentum * batchStat, in float64 from the float64 statistics.
      outs.push_back(Float(Exact(runMean) * (1 - momentum) + exactMean * momentum));
      outs.push_back(Float(Exact(runVar) * (1 - momentum) + unbiasedVar * momentum));
    }
    return ReturnTensors(info.Env(), outs);
  }
  // ATen updates the running statistics in place: give it copies, the originals stay immutable.
  at::Tensor newMean = runMean.defined() ? Exact(runMean).clone() : at::Tensor();
  at::Tensor newVar = runVar.defined() ? Exact(runVar).clone() : at::Tensor();
  auto r = at::native_batch_norm(ChannelsFirst(Exact(x)), Exact(scale), Exact(offset), newMean, newVar,
                                 /*training=*/true, momentum, eps);
  std::vector<at::Tensor> outs = {ChannelsBack(Float(std::get<0>(r))), Float(std::get<1>(r)), Float(std::get<2>(r))};
  if (newMean.defined()) {
    outs.push_back(Float(newMean));
    outs.push_back(Float(newVar));
  }
  return ReturnTensors(info.Env(), outs);
}

// nnBatchNormTrainGrad(dy, x, scale|-1, batchMean, batchInvStd, eps) -> [dx, dScale, dOffset]
// The full training-mode gradient (through the batch statistics too) in one pass.
TT_FN(NnBatchNormTrainGrad) {
  const at::Tensor dy = Float(TensorArg(info, 0));
  const at::Tensor x = Float(TensorArg(info, 1));
  at::Tensor scale = OptTensorArg(info, 2);
  const at::Tensor mean = TensorArg(info, 3);
  const at::Tensor invstd = TensorArg(info, 4);
  const double eps = DoubleArg(info, 5);
  CheckPerChannel("nnBatchNormTrainGrad", x, scale, "scale");
  if (OwnBatchNorm(x)) {
    const at::Tensor dyc = dy.contiguous(), xc = x.contiguous();
    if (!dyc.sizes().equals(xc.sizes())) throw std::runtime_error("nnBatchNormTrainGrad: dy must have x's shape");
    const int64_t channels = x.size(-1);
    const int64_t rows = channels == 0 ? 0 : xc.numel() / channels;
    CheckPerChannel("nnBatchNormTrainGrad", x, mean, "batchMean");
    CheckPerChannel("nnBatchNormTrainGrad", x, invstd, "batchInvStd");
    const at::Tensor sc = Channel(scale), mc = Channel(mean), ic = Channel(invstd);
    at::Tensor dx = at::empty(x.sizes(), x.options());
    at::Tensor dScale = at::empty({channels}, x.options());
    at::Tensor dOffset = at::empty({channels}, x.options());
    BatchNormTrainBackwardCpu(dyc.data_ptr<float>(), xc.data_ptr<float>(), rows, channels, DataOrNull(sc),
                              mc.data_ptr<float>(), ic.data_ptr<float>(), dx.data_ptr<float>(),
                              dScale.data_ptr<float>(), dOffset.data_ptr<float>());
    return ReturnTensors(info.Env(), {dx, dScale, dOffset});
  }
  scale = scale.defined() ? Float(scale) : at::ones({x.size(-1)}, x.options());
  auto g = at::native_batch_norm_backward(ChannelsFirst(Exact(dy)), ChannelsFirst(Exact(x)), Exact(scale), at::Tensor(),
                                          at::Tensor(), Exact(mean), Exact(invstd), /*train=*/true, eps,
                                          {true, true, true});
  return ReturnTensors(info.Env(), {ChannelsBack(Float(std::get<0>(g))), Float(std::get<1>(g)), Float(std::get<2>(g))});
}

// An output for a parameter update, laid out like the parameter's gradient. A convolution's filter
// gradient comes in the memory layout its convolution uses (ops_conv.cc); updated weights and
// slots made in that layout feed the next forward pass without a reorder, and keep every operand
// of the element-wise update in one layout (ATen then runs it as one flat vectorised loop).
at::Tensor LikeGradient(const at::Tensor& g) {
  return at::empty_like(g, at::MemoryFormat::Preserve);
}

// a + alpha * b into a new tensor laid out like g.
at::Tensor AddLike(const at::Tensor& g, const at::Tensor& a, const at::Tensor& b, double alpha) {
  at::Tensor out = LikeGradient(g);
  at::add_out(out, a, b, alpha);
  return out;
}

void CheckGroup(const char* fn, const std::vector<at::Tensor>& ps, const std::vector<at::Tensor>& other,
                const char* what) {
  if (ps.size() != other.size()) {
    throw std::runtime_error(std::string(fn) + ": " + std::to_string(ps.size()) + " parameters but " +
                             std::to_string(other.size()) + " " + what);
  }
  for (size_t i = 0; i < ps.size(); ++i) {
    if (!ps[i].sizes().equals(other[i].sizes())) {
      throw std::runtime_error(std::string(fn) + ": " + what + " " + std::to_string(i) +
                               " does not have its parameter's shape");
    }
  }
}

// nnSgdMomentumUpdate(params[], velocities[], grads[], lr, momentum, weightDecay)
//   -> [p'0..p'n-1, v'0..v'n-1]
// torch.optim.SGD with dampening 0, no Nesterov: g = grad + wd p; v' = momentum v + g; p' = p - lr v'.
TT_FN(NnSgdMomentumUpdate) {
  const std::vector<at::Tensor> ps = TensorListArg(info, 0);
  const std::vector<at::Tensor> vs = TensorListArg(info, 1);
  const std::vector<at::Tensor> gs = TensorListArg(info, 2);
  const double lr = DoubleArg(info, 3), momentum = DoubleArg(info, 4), wd = DoubleArg(info, 5);
  CheckGroup("nnSgdMomentumUpdate", ps, vs, "velocities");
  CheckGroup("nnSgdMomentumUpdate", ps, gs, "gradients");
  std::vector<at::Tensor> outs(2 * ps.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    const at::Tensor g = wd != 0 ? AddLike(gs[i], gs[i], ps[i], wd) : gs[i];
    at::Tensor v = AddLike(gs[i], g, vs[i], momentum);  // g + momentum * v
    outs[i] = AddLike(gs[i], ps[i], v, -lr);
    outs[ps.size() + i] = std::move(v);
  }
  return ReturnTensors(info.Env(), outs, /*keepDenseLayout=*/true);
}

// nnAdamUpdate(params[], m[], v[], grads[], lr, beta1, beta2, eps, weightDecay, step)
//   -> [p'..., m'..., v'...]
// torch.optim.Adam (L2 weight decay on the gradient, bias-corrected moments, step counted from 1):
//   m' = b1 m + (1-b1) g;  v' = b2 v + (1-b2) g^2;
//   p' = p - (lr / (1-b1^t)) * m' / (sqrt(v') / sqrt(1-b2^t) + eps)
TT_FN(NnAdamUpdate) {
  const std::vector<at::Tensor> ps = TensorListArg(info, 0);
  const std::vector<at::Tensor> ms = TensorListArg(info, 1);
  const std::vector<at::Tensor> vs = TensorListArg(info, 2);
  const std::vector<at::Tensor> gs = TensorListArg(info, 3);
  const double lr = DoubleArg(info, 4), b1 = DoubleArg(info, 5), b2 = DoubleArg(info, 6);
  const double eps = DoubleArg(info, 7), wd = DoubleArg(info, 8);
  const int64_t step = IntArg(info, 9);
  if (step < 1) throw std::runtime_error("nnAdamUpdate: step must be >= 1");
  CheckGroup("nnAdamUpdate", ps, ms, "first moments");
  CheckGroup("nnAdamUpdate", ps, vs, "second moments");
  CheckGroup("nnAdamUpdate", ps, gs, "gradients");
  // Host float64, as the TypeScript reference computes them.
  const double bc1 = 1 - std::pow(b1, static_cast<double>(step));
  const double sqrtBc2 = std::sqrt(1 - std::pow(b2, static_cast<double>(step)));
  const double stepSize = lr / bc1;
  const size_t n = ps.size();
  std::vector<at::Tensor> outs(3 * n);
  for (size_t i = 0; i < n; ++i) {
    const at::Tensor g = wd != 0 ? AddLike(gs[i], gs[i], ps[i], wd) : gs[i];
    at::Tensor m = AddLike(gs[i], ms[i] * b1, g, 1 - b1);
    at::Tensor v = LikeGradient(gs[i]);
    at::addcmul_out(v, vs[i] * b2, g, g, 1 - b2);
    const at::Tensor denom = (at::sqrt(v) / sqrtBc2).add_(eps);
    outs[i] = LikeGradient(gs[i]);
    at::addcdiv_out(outs[i], ps[i], m, denom, -stepSize);
    outs[n + i] = std::move(m);
    outs[2 * n + i] = std::move(v);
  }
  return ReturnTensors(info.Env(), outs, /*keepDenseLayout=*/true);
}

// nnLinfStep(x, grad, x0, stepSize, eps, lo, hi) -> clamp(clamp(x + step*sign(grad), x0-eps, x0+eps), lo, hi)
// The inner update of PGD/BIM/APGD under an L-infinity budget, in one call instead of tfjs's
// sign, mul, add, sub, add, maximum, minimum, clipByValue (and their scalar uploads).
// sign(NaN) counts as 0, as in tfjs.
TT_FN(NnLinfStep) {
  const at::Tensor x = Float(TensorArg(info, 0));
  const at::Tensor g = Float(TensorArg(info, 1));
  const at::Tensor x0 = Float(TensorArg(info, 2));
  const double step = DoubleArg(info, 3), eps = DoubleArg(info, 4);
  const double lo = DoubleArg(info, 5), hi = DoubleArg(info, 6);
  at::Tensor s = at::sign(g);
  s.masked_fill_(at::isnan(g), 0);
  at::Tensor y = at::add(x, s, step);
  y = at::minimum(at::maximum(y, x0 - eps), x0 + eps);
  return ReturnTensor(info.Env(), y.clamp_(lo, hi));
}

// nnApgdLinfStep(xCur, xPrev, grad, x0, stepSize, a, eps, lo, hi) -> xNext
// APGD's L-infinity update (Croce & Hein 2020): z = P(xCur + stepSize * sign(grad)), then
// xNext = P(xCur + a (z - xCur) + (1 - a)(xCur - xPrev)), P = projection onto the eps-ball around
// x0 and [lo, hi]; stepSize broadcasts per example ([N,1,1,1]). One call instead of about twenty;
// the same operation order as the toolkit's composition, so the results are the same floats.
TT_FN(NnApgdLinfStep) {
  const at::Tensor x = Float(TensorArg(info, 0));
  const at::Tensor xPrev = Float(TensorArg(info, 1));
  const at::Tensor g = Float(TensorArg(info, 2));
  const at::Tensor x0 = Float(TensorArg(info, 3));
  const at::Tensor step = Float(TensorArg(info, 4));
  const double a = DoubleArg(info, 5), eps = DoubleArg(info, 6);
  const double lo = DoubleArg(info, 7), hi = DoubleArg(info, 8);
  const at::Tensor low = x0 - eps, high = x0 + eps;
  const auto project = [&](const at::Tensor& v) { return at::minimum(at::maximum(v, low), high).clamp_(lo, hi); };
  at::Tensor s = at::sign(g);
  s.masked_fill_(at::isnan(g), 0);
  const at::Tensor z = project(x + step * s);
  return ReturnTensor(info.Env(), project((x + (z - x) * a) + (x - xPrev) * (1 - a)));
}

// nnApgdTrack(xCur, grad, loss, lossPrev, logits, y, xBestAdv, robust, increases, xBest, gradBest,
//             lossBest) -> [xBestAdv', robust', increases', xBest', gradBest', lossBest']
// APGD's per-iteration bookkeeping after the gradient at xCur: the last misclassified iterate,
// "robust at every iterate so far", the count of loss increases since the last checkpoint, and
// the best-loss iterate with its gradient and loss. One call instead of about thirty tfjs kernels
// (argMax, equal, five broadcast selects, ...); selections and an add of 0/1, so the same floats.
TT_FN(NnApgdTrack) {
  const at::Tensor x = Float(TensorArg(info, 0));
  const at::Tensor g = Float(TensorArg(info, 1));
  const at::Tensor loss = Float(TensorArg(info, 2));
  const at::Tensor lossPrev = Float(TensorArg(info, 3));
  const at::Tensor& logits = TensorArg(info, 4);
  const at::Tensor& y = TensorArg(info, 5);
  const at::Tensor xBestAdv = Float(TensorArg(info, 6));
  const at::Tensor& robust = TensorArg(info, 7);
  const at::Tensor increases = Float(TensorArg(info, 8));
  const at::Tensor xBest = Float(TensorArg(info, 9));
  const at::Tensor gradBest = Float(TensorArg(info, 10));
  const at::Tensor lossBest = Float(TensorArg(info, 11));
  const int64_t n = x.size(0);
  std::vector<int64_t> rowShape(static_cast<size_t>(x.dim()), 1);
  rowShape[0] = n;
  // The prediction as the ArgMax kernel makes it (ops_reduce.cc): a NaN logit is never picked
  // unless it is the first one.
  const at::Tensor z = Float(logits);
  at::Tensor pred = at::argmax(at::where(at::isnan(z), at::full({}, -INFINITY, z.options()), z), 1);
  pred = at::where(at::isnan(z.select(1, 0)), at::zeros({}, pred.options()), pred);
  const at::Tensor correct = pred.eq(y.to(at::kLong));
  const at::Tensor improved = loss.gt(lossBest);
  const at::Tensor wrongRows = correct.logical_not().reshape(rowShape);
  const at::Tensor improvedRows = improved.reshape(rowShape);
  std::vector<at::Tensor> outs;
  outs.push_back(at::where(wrongRows, x, xBestAdv));
  outs.push_back(robust.to(at::kBool).logical_and(correct));
  outs.push_back(increases + loss.gt(lossPrev).to(at::kFloat));
  outs.push_back(at::where(improvedRows, x, xBest));
  outs.push_back(at::where(improvedRows, g, gradBest));
  outs.push_back(at::where(improved, loss, lossBest));
  return ReturnTensors(info.Env(), outs);
}

// nnSquareAccept(logits, y, proposal, best, margin) -> [best', margin']
// Square's accept step (Andriushchenko et al. 2020) on the model's logits at the proposals:
// newMargin = z_y - max_{k != y} z_k (the toolkit's CW margin, the true class masked by -1e9),
// accept = newMargin < margin or newMargin <= 0; best and margin take the proposal's values where
// accepted. One call instead of about twenty tfjs kernels per query, with the same ATen ops as the
// engine's Multiply / Sum / Max kernels, so the same floats.
TT_FN(NnSquareAccept) {
  const at::Tensor z = Float(TensorArg(info, 0));
  const at::Tensor& y = TensorArg(info, 1);
  const at::Tensor proposal = Float(TensorArg(info, 2));
  const at::Tensor best = Float(TensorArg(info, 3));
  const at::Tensor margin = Float(TensorArg(info, 4));
  if (z.device().is_cpu() && z.dim() == 2 && z.is_contiguous() && proposal.is_contiguous() && best.is_contiguous() &&
      margin.is_contiguous() && proposal.sizes().equals(best.sizes()) && best.dim() >= 1 && best.size(0) == z.size(0) &&
      margin.numel() == z.size(0) && y.numel() == z.size(0) && at::isfinite(z).all().item<bool>()) {
    // Per row in one pass, instead of about a dozen ATen calls (one_hot alone checks its indices
    // with two host reads) on a [rows, classes] tensor a query. With finite logits the composition
    // below is exact: the one-hot sum is z_y (adding zeros to it; -0 only when every term is -0,
    // in any order), z_k - 0 = z_k, and the true class enters the maximum as z_y - 1e9 in float32.
    const int64_t rows = z.size(0), classes = z.size(1), rowSize = best.numel() / std::max<int64_t>(rows, 1);
    const at::Tensor labels = y.to(at::kLong).contiguous();
    at::Tensor outBest = at::empty(best.sizes(), best.options());
    at::Tensor outMargin = at::empty(margin.sizes(), margin.options());
    const float* pz = z.data_ptr<float>();
    const int64_t* py = labels.data_ptr<int64_t>();
    const float* pp = proposal.data_ptr<float>();
    const float* pb = best.data_ptr<float>();
    const float* pm = margin.data_ptr<float>();
    float* ob = outBest.data_ptr<float>();
    float* om = outMargin.data_ptr<float>();
    const float big = 1e9f;
    ParallelRange(0, rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(rowSize, 1)), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* zr = pz + r * classes;
        const int64_t label = py[r];
        float trueLogit = 0.0f, maxOther = -INFINITY;
        bool first = true;
        for (int64_t k = 0; k < classes; ++k) {
          const float hot = k == label ? 1.0f : 0.0f;
          const float term = zr[k] * hot;
          trueLogit = first ? term : trueLogit + term;
          const float masked = zr[k] - hot * big;
          maxOther = first || maxOther < masked ? masked : maxOther;
          first = false;
        }
        const float newMargin = -(maxOther - trueLogit);
        const bool accept = newMargin < pm[r] || newMargin <= 0;
        om[r] = accept ? newMargin : pm[r];
        std::memcpy(ob + r * rowSize, (accept ? pp : pb) + r * rowSize, static_cast<size_t>(rowSize) * sizeof(float));
      }
    });
    return ReturnTensors(info.Env(), {outBest, outMargin});
  }
  const at::Tensor oneHot = at::one_hot(y.to(at::kLong), z.size(1)).to(at::kFloat);
  const at::Tensor trueLogit = at::sum(z * oneHot, {1}, false);
  const at::Tensor maxOther = at::amax(z - oneHot * 1e9, {1}, false);
  const at::Tensor newMargin = (maxOther - trueLogit).neg();
  const at::Tensor accept = newMargin.lt(margin).logical_or(newMargin.le(0));
  std::vector<int64_t> rowShape(static_cast<size_t>(best.dim()), 1);
  rowShape[0] = best.size(0);
  std::vector<at::Tensor> outs;
  outs.push_back(at::where(accept.reshape(rowShape), proposal, best));
  outs.push_back(at::where(accept, newMargin, margin));
  return ReturnTensors(info.Env(), outs);
}

}  // namespace
}  // namespace nn

void RegisterFusedOps(Napi::Env env, Napi::Object exports) {
  using namespace nn;
  TT_EXPORT(exports, env, NnBatchNormTrain);
  TT_EXPORT(exports, env, NnBatchNormTrainGrad);
  TT_EXPORT(exports, env, NnSgdMomentumUpdate);
  TT_EXPORT(exports, env, NnAdamUpdate);
  TT_EXPORT(exports, env, NnLinfStep);
  TT_EXPORT(exports, env, NnApgdLinfStep);
  TT_EXPORT(exports, env, NnApgdTrack);
  TT_EXPORT(exports, env, NnSquareAccept);
}

}  // namespace tt
