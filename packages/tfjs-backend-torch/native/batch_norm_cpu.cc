// Training-mode batch norm loops for the CPU (see batch_norm_cpu.h for why they exist).
//
// The addon builds at -O2, where GCC vectorises only loops it can prove need no remainder; the
// per-channel loops below run over a channel count known only at run time, so this file asks for
// -O3's vectoriser (the same code, SIMD over channels).
#pragma GCC optimize("O3")

#include "batch_norm_cpu.h"

#include "context.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace tt {
namespace nn {
namespace {

// Rows per block: about 16k values, enough work to be worth a thread and few enough blocks that
// the float64 partial sums stay small. Fixed by the channel count only, so the order of every
// addition is the same whatever the number of threads.
int64_t RowsPerBlock(int64_t channels) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(channels, 1)); }

// Calls rowFn(row, acc) for every row of every block with acc the block's `width` float64
// partial sums, in parallel over blocks; then adds the blocks' sums in block order into `total`.
template <class RowFn>
void BlockSums(int64_t rows, int64_t width, int64_t rowsPerBlock, std::vector<double>& total, const RowFn& rowFn) {
  const int64_t blocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
  std::vector<double> partial(static_cast<size_t>(blocks * width), 0.0);
  ParallelRange(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double* acc = partial.data() + b * width;
      const int64_t rEnd = std::min(rows, (b + 1) * rowsPerBlock);
      for (int64_t r = b * rowsPerBlock; r < rEnd; ++r) rowFn(r, acc);
    }
  });
  total.assign(static_cast<size_t>(width), 0.0);
  for (int64_t b = 0; b < blocks; ++b) {
    const double* acc = partial.data() + b * width;
    for (int64_t c = 0; c < width; ++c) total[c] += acc[c];
  }
}

}  // namespace

void BatchNormTrainForwardCpu(const float* x, int64_t rows, int64_t channels, const float* scale,
                              const float* offset, double eps, float* y, float* mean, float* invstd,
                              double* exactMean, double* unbiasedVar) {
  const int64_t C = channels;
  const int64_t rpb = RowsPerBlock(C);
  const double n = static_cast<double>(rows);

  // Two passes (mean, then squared deviations) rather than sum and sum of squares: the variance
  // of data far from zero keeps its digits.
  std::vector<double> m;
  BlockSums(rows, C, rpb, m, [&](int64_t r, double* acc) {
    const float* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) acc[c] += static_cast<double>(xr[c]);
  });
  for (int64_t c = 0; c < C; ++c) m[c] /= n;

  std::vector<double> ss;
  BlockSums(rows, C, rpb, ss, [&](int64_t r, double* acc) {
    const float* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const double d = static_cast<double>(xr[c]) - m[c];
      acc[c] += d * d;
    }
  });

  std::vector<double> a(static_cast<size_t>(C)), b(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double is = 1.0 / std::sqrt(ss[c] / n + eps);
    mean[c] = static_cast<float>(m[c]);
    exactMean[c] = m[c];
    invstd[c] = static_cast<float>(is);
    unbiasedVar[c] = rows > 1 ? ss[c] / (n - 1) : std::numeric_limits<double>::quiet_NaN();
    a[c] = is * (scale != nullptr ? static_cast<double>(scale[c]) : 1.0);
    b[c] = offset != nullptr ? static_cast<double>(offset[c]) : 0.0;
  }

  ParallelRange(0, rows, rpb, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      for (int64_t c = 0; c < C; ++c) yr[c] = static_cast<float>((static_cast<double>(xr[c]) - m[c]) * a[c] + b[c]);
    }
  });
}

void BatchNormTrainBackwardCpu(const float* dy, const float* x, int64_t rows, int64_t channels,
                               const float* scale, const float* mean, const float* invstd, float* dx,
                               float* dScale, float* dOffset) {
  const int64_t C = channels;
  const int64_t rpb = RowsPerBlock(C);
  const double n = static_cast<double>(rows);
  std::vector<double> m(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) m[c] = static_cast<double>(mean[c]);

  // sums[0..C): sum of dy; sums[C..2C): sum of dy * (x - mean).
  std::vector<double> sums;
  BlockSums(rows, 2 * C, rpb, sums, [&](int64_t r, double* acc) {
    const float* dyr = dy + r * C;
    const float* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const double g = static_cast<double>(dyr[c]);
      acc[c] += g;
      acc[C + c] += g * (static_cast<double>(xr[c]) - m[c]);
    }
  });

  // dx = (dy - mean(dy) - (x - mean) * invstd^2 * mean(dy * (x - mean))) * invstd * scale
  std::vector<double> meanDy(static_cast<size_t>(C)), k(static_cast<size_t>(C)), w(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double is = static_cast<double>(invstd[c]);
    meanDy[c] = sums[c] / n;
    k[c] = sums[C + c] * is * is / n;
    w[c] = is * (scale != nullptr ? static_cast<double>(scale[c]) : 1.0);
    dScale[c] = static_cast<float>(sums[C + c] * is);
    dOffset[c] = static_cast<float>(sums[c]);
  }
  ParallelRange(0, rows, rpb, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* dyr = dy + r * C;
      const float* xr = x + r * C;
      float* dxr = dx + r * C;
      for (int64_t c = 0; c < C; ++c) {
        const double centred = static_cast<double>(xr[c]) - m[c];
        dxr[c] = static_cast<float>((static_cast<double>(dyr[c]) - meanDy[c] - centred * k[c]) * w[c]);
      }
    }
  });
}

}  // namespace nn
}  // namespace tt
