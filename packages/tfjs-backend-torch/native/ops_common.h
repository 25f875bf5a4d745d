// Helpers shared by the core op families (engine-core's files only).
#pragma once

#include "context.h"

namespace tt {
// float -> int32 exactly like a JS Int32Array store: truncate, NaN/Infinity -> 0, wrap mod 2^32.
at::Tensor JsInt(const at::Tensor& t);
// Converts a computed result to the dtype tfjs expects (JsInt for int32, != 0 for bool).
at::Tensor ToOut(const at::Tensor& t, at::ScalarType out);
// Normalises a possibly negative axis against `rank`.
inline int64_t NormAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }
}  // namespace tt
