// Training-mode batch norm on CPU float32 data laid out [rows, channels] (NHWC flattened, or a
// dense layer's [batch, features]), with every per-channel sum accumulated in float64.
//
// Why not ATen: its CPU kernel over channels-last data sums in float32, which loses about three
// digits of the input gradient on large batches; running ATen on a float64 copy fixes the digits
// but converts every activation twice per call: the ResNet-18 training step at batch 128 took
// about 10% longer that way than with these loops (docs/engine-speed.md, AMD EPYC, 2026-12-07). These loops read the float32 data directly and keep only the sums in
// float64, so they match a float64 reference to float32 rounding at float32 memory traffic.
//
// Sums run over fixed blocks of rows, reduced in block order, so the result does not depend on the
// number of threads.
#pragma once

#include <cstdint>

namespace tt {
namespace nn {

// y = (x - mean) * invstd * scale + offset, with the batch's mean and biased variance.
// scale / offset may be null (1 and 0). Writes y [rows*channels], mean and invstd [channels]
// (float32, what the backward call takes), and, for the running statistics, the mean and the
// unbiased variance in float64 [channels] (the variance NaN when rows == 1, like PyTorch).
void BatchNormTrainForwardCpu(const float* x, int64_t rows, int64_t channels, const float* scale,
                              const float* offset, double eps, float* y, float* mean, float* invstd,
                              double* exactMean, double* unbiasedVar);

// The full training-mode gradient (through the batch statistics): dx [rows*channels],
// dScale and dOffset [channels]. scale may be null (1).
void BatchNormTrainBackwardCpu(const float* dy, const float* x, int64_t rows, int64_t channels,
                               const float* scale, const float* mean, const float* invstd, float* dx,
                               float* dScale, float* dOffset);

}  // namespace nn
}  // namespace tt
