// The box-constrained L-infinity projection onto a hyperplane, FAB's inner step (issue "speed"):
// per row r, the smallest ||d||_inf with <w_r, x_r + d> = b_r and 0 <= x_r + d <= 1.
//
// With c = b - <w, x>, coordinate i moves in direction dir_i = sign(c w_i) by at most room_i
// (1 - x_i upwards, x_i downwards), and at L-inf level lam the reachable change is
// g(lam) = sum_i |w_i| min(lam, room_i): piecewise linear, non-decreasing, with breakpoints at the
// rooms. The answer is d_i = dir_i min(lam*, room_i) with g(lam*) = |c|, or every coordinate at its
// box limit when g(max room) < |c| (lam* = 2 stands for "beyond every room").
//
// tfjs composes this from a full sort of the rooms, cumulative sums and gathers (about 30 kernels,
// the sort dominating). Here each row finds the crossing piece without sorting: one pass sums the
// rooms into 256 equal bins, which places the crossing in one bin; among that bin's rooms a
// weighted selection splits around a pivot p, evaluates g(p) from the sums of the rooms below it,
// and keeps only the side that still holds the crossing. A few linear passes per row instead of
// O(D log D), sums in double. The crossing piece is the same as the sort's (ties included: a
// breakpoint counts as saturated exactly when g at its room is below |c|), so the result equals
// the composition's up to the float32 rounding of its cumulative sums.
#include "ops_common.h"
#include "ops_nn.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace tt {
namespace nn {
namespace {

constexpr int kBins = 256;  // bin indices fit in a uint8_t

// One row: x, w of length D, target b; writes d. `room`, `weight` and `bins` are scratch of length D.
void ProjectRow(const float* x, const float* w, float b, int64_t D, float* d, std::vector<float>& room,
                std::vector<float>& weight, std::vector<uint8_t>& bins) {
  // Four partial sums: one chain of dependent double additions would bound this loop by their latency.
  double dots[4] = {0, 0, 0, 0};
  int64_t i4 = 0;
  for (; i4 + 4 <= D; i4 += 4) {
    for (int k = 0; k < 4; ++k) dots[k] += static_cast<double>(w[i4 + k]) * static_cast<double>(x[i4 + k]);
  }
  for (; i4 < D; ++i4) dots[0] += static_cast<double>(w[i4]) * static_cast<double>(x[i4]);
  const double dot = (dots[0] + dots[1]) + (dots[2] + dots[3]);
  const float c = static_cast<float>(static_cast<double>(b) - dot);
  const double absC = std::fabs(static_cast<double>(c));
  double total = 0.0;
  float lowest = INFINITY, highest = -INFINITY;
  for (int64_t i = 0; i < D; ++i) {
    const float cw = c * w[i];
    room[i] = cw > 0 ? 1.0f - x[i] : x[i];
    weight[i] = std::fabs(w[i]);
    total += weight[i];
    lowest = std::min(lowest, room[i]);
    highest = std::max(highest, room[i]);
  }
  // First narrow the crossing to one of kBins equal bins over [lowest, highest]: with the sums of the
  // bins below bin j, g at bin j's lower edge says whether the crossing lies above it. Every room in
  // a lower bin is then saturated and every room in a higher bin is not; only bin j's rooms remain.
  double satWR = 0.0, satW = 0.0;
  int64_t saturated = 0, lo = 0, hi = D;
  const double span = static_cast<double>(highest) - static_cast<double>(lowest);
  if (D >= kBins && span > 0) {
    double binW[kBins] = {0}, binWR[kBins] = {0};
    int64_t binCount[kBins] = {0};
    const double scale = kBins / span;
    auto binOf = [&](float r) {
      return static_cast<int>(std::min<double>(kBins - 1, (static_cast<double>(r) - lowest) * scale));
    };
    for (int64_t i = 0; i < D; ++i) {
      const int k = binOf(room[i]);
      bins[i] = static_cast<uint8_t>(k);
      binW[k] += weight[i];
      binWR[k] += static_cast<double>(weight[i]) * room[i];
      ++binCount[k];
    }
    int j = -1;  // the last bin whose lower edge is below the crossing
    double belowWR = 0.0, belowW = 0.0;
    for (int k = 0; k < kBins; ++k) {
      const double edge = lowest + k / scale;
      if (belowWR + edge * (total - belowW) >= absC) break;
      j = k;
      if (k + 1 < kBins) {
        belowWR += binWR[k];
        belowW += binW[k];
      }
    }
    if (j < 0) {
      hi = 0;  // the crossing lies at or below the lowest room: nothing saturates
    } else {
      // Sums of the bins below j; move bin j's rooms to the front and select among them.
      satWR = 0.0;
      satW = 0.0;
      for (int k = 0; k < j; ++k) {
        satWR += binWR[k];
        satW += binW[k];
        saturated += binCount[k];
      }
      int64_t m = 0;
      for (int64_t i = 0; i < D; ++i) {
        if (bins[i] == j) {
          room[m] = room[i];
          weight[m] = weight[i];
          ++m;
        }
      }
      hi = m;
    }
  }
  // Weighted selection among the undecided rooms in [lo, hi) (reordered in place).
  while (lo < hi) {
    // Median of three as the pivot; a three-way partition keeps ties (zero rooms are common) cheap.
    const float r0 = room[lo], r1 = room[lo + (hi - lo) / 2], r2 = room[hi - 1];
    const float p = std::max(std::min(r0, r1), std::min(std::max(r0, r1), r2));
    int64_t lt = lo, i = lo, gt = hi;
    double lowWR = 0.0, lowW = 0.0, eqW = 0.0;
    while (i < gt) {
      const float r = room[i];
      if (r < p) {
        lowWR += static_cast<double>(weight[i]) * r;
        lowW += weight[i];
        std::swap(room[i], room[lt]);
        std::swap(weight[i], weight[lt]);
        ++lt;
        ++i;
      } else if (r > p) {
        --gt;
        std::swap(room[i], room[gt]);
        std::swap(weight[i], weight[gt]);
      } else {
        eqW += weight[i];
        ++i;
      }
    }
    const double gAtPivot = satWR + lowWR + static_cast<double>(p) * (total - satW - lowW);
    if (gAtPivot < absC) {
      // Every breakpoint at or below p is saturated; the crossing lies above p.
      satWR += lowWR + static_cast<double>(p) * eqW;
      satW += lowW + eqW;
      saturated += gt - lo;
      lo = gt;
    } else {
      hi = lt;
    }
  }
  const bool reachable = saturated < D;
  const double lam = reachable ? (absC - satWR) / std::max(total - satW, 1e-12) : 2.0;
  const float lamF = static_cast<float>(lam);
  for (int64_t i = 0; i < D; ++i) {
    const float cw = c * w[i];
    const float dir = cw > 0 ? 1.0f : (cw < 0 ? -1.0f : 0.0f);
    const float r = cw > 0 ? 1.0f - x[i] : x[i];
    d[i] = dir * std::min(lamF, r);
  }
}

// The same projection from ATen ops (a full sort, as tfjs's composition), for tensors the loop does
// not take (CUDA, or not float32-contiguous).
at::Tensor ProjectComposed(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const int64_t D = x.size(1);
  const at::Tensor c = b - (w * x).sum(1);
  const at::Tensor absC = c.abs().unsqueeze(1);
  const at::Tensor dir = (c.unsqueeze(1) * w).sign();
  const at::Tensor room = at::where(dir.gt(0), 1 - x, x);
  const at::Tensor absW = w.abs();
  auto sorted = at::sort(room, /*stable=*/true, /*dim=*/1, /*descending=*/false);
  const at::Tensor roomSorted = std::get<0>(sorted);
  const at::Tensor wSorted = absW.gather(1, std::get<1>(sorted));
  const at::Tensor total = absW.sum(1, true);
  const at::Tensor cumWR = (wSorted * roomSorted).cumsum(1);
  const at::Tensor cumW = wSorted.cumsum(1);
  const at::Tensor gAtBreak = cumWR + roomSorted * (total - cumW);
  const at::Tensor k = gAtBreak.lt(absC).sum(1, true);  // int64 [B, 1]
  const at::Tensor prev = (k - 1).clamp_min(0);
  const at::Tensor some = k.gt(0);
  const at::Tensor satWR = at::where(some, cumWR.gather(1, prev), at::zeros_like(absC));
  const at::Tensor satW = at::where(some, cumW.gather(1, prev), at::zeros_like(absC));
  const at::Tensor lam = (absC - satWR) / (total - satW).clamp_min(1e-12);
  const at::Tensor lamEff = at::where(k.lt(D), lam, at::full_like(lam, 2.0));
  return dir * at::minimum(lamEff, room);
}

// nnLinfBoxProjection(x [B, D], w [B, D], b [B]) -> d [B, D]
TT_FN(NnLinfBoxProjection) {
  const at::Tensor& x = TensorArg(info, 0);
  const at::Tensor& w = TensorArg(info, 1);
  const at::Tensor& b = TensorArg(info, 2);
  if (x.dim() != 2 || !w.sizes().equals(x.sizes()) || b.dim() != 1 || b.size(0) != x.size(0)) {
    throw std::runtime_error("linfBoxProjection: expected x and w of shape [B, D] and b of shape [B]");
  }
  const bool loop = x.device().is_cpu() && x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
                    b.scalar_type() == at::kFloat;
  if (!loop) return ReturnTensor(info.Env(), ProjectComposed(x.to(at::kFloat), w.to(at::kFloat), b.to(at::kFloat)));
  const at::Tensor xc = x.contiguous(), wc = w.contiguous(), bc = b.contiguous();
  const int64_t B = x.size(0), D = x.size(1);
  at::Tensor d = at::empty({B, D}, xc.options());
  const float* px = xc.data_ptr<float>();
  const float* pw = wc.data_ptr<float>();
  const float* pb = bc.data_ptr<float>();
  float* pd = d.data_ptr<float>();
  // About 20 passes' worth of work per element: split rows across threads in chunks of ~64k values.
  ParallelRange(0, B, std::max<int64_t>(1, 65536 / std::max<int64_t>(D, 1)), [&](int64_t begin, int64_t end) {
    std::vector<float> room(static_cast<size_t>(D)), weight(static_cast<size_t>(D));
    std::vector<uint8_t> bins(static_cast<size_t>(D));
    for (int64_t r = begin; r < end; ++r) ProjectRow(px + r * D, pw + r * D, pb[r], D, pd + r * D, room, weight, bins);
  });
  return ReturnTensor(info.Env(), d);
}

}  // namespace
}  // namespace nn

void RegisterProjectionOps(Napi::Env env, Napi::Object exports) {
  using namespace nn;
  TT_EXPORT(exports, env, NnLinfBoxProjection);
}

}  // namespace tt
