// Shape and data-movement kernels: Reshape, Transpose, Slice, StridedSlice, Concat, Pack, Unpack,
// SplitV, Tile, PadV2, MirrorPad, Reverse, GatherV2, OneHot, Fill. Concat and Split on CPU are
// row-copy loops (RowConcat, RowSplit) rather than ATen's cat and split views.
// Attributes arrive already normalised by tfjs's own helpers in TypeScript (slice_util,
// backend_util, util.parseAxisParam); this file only maps them onto ATen. Views are made
// contiguous by Put(), so a small slice never pins a large base storage (guide §7a).
#include "context.h"
#include "ops_common.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace tt {
namespace {

// reshape(x, shape): a view of the (contiguous) input under a new handle.
TT_FN(Reshape) {
  return ReturnTensor(info.Env(), TensorArg(info, 0).reshape(IntListArg(info, 1)));
}

TT_FN(Transpose) {
  return ReturnTensor(info.Env(), TensorArg(info, 0).permute(IntListArg(info, 1)).contiguous());
}

// slice(x, begin, size)
TT_FN(Slice) {
  at::Tensor t = TensorArg(info, 0);
  std::vector<int64_t> begin = IntListArg(info, 1), size = IntListArg(info, 2);
  for (size_t d = 0; d < begin.size(); ++d) t = t.narrow(static_cast<int64_t>(d), begin[d], size[d]);
  return ReturnTensor(info.Env(), t.contiguous());
}

// stridedSlice(x, begin, strides, counts, finalShape): element k of dim d is begin[d] + k*strides[d]
// for k < counts[d] (tfjs's stridedSliceImpl over sliceInfo's normalised begin/strides and
// finalShapeSparse), then reshaped to finalShape.
TT_FN(StridedSlice) {
  at::Tensor t = TensorArg(info, 0);
  std::vector<int64_t> begin = IntListArg(info, 1), strides = IntListArg(info, 2), counts = IntListArg(info, 3);
  std::vector<int64_t> finalShape = IntListArg(info, 4);
  for (size_t i = 0; i < counts.size() && static_cast<int64_t>(i) < t.dim(); ++i) {
    const int64_t d = static_cast<int64_t>(i);
    const int64_t n = counts[i], s = strides[i], b = begin[i];
    if (n <= 0) { t = t.narrow(d, 0, 0); continue; }
    if (s > 0) {
      t = t.slice(d, b, b + (n - 1) * s + 1, s);
    } else {
      const int64_t last = b + (n - 1) * s;  // the smallest index taken
      t = t.slice(d, last, b + 1, -s).flip({d});
    }
  }
  return ReturnTensor(info.Env(), t.contiguous().reshape(finalShape));
}

// The row-copy Concat and Split below: on by default, off with TFJS_TORCH_ROW_COPY=0 at load or
// setRowCopy(false) from JS (ATen's cat / split_with_sizes then, as before; benchmarks compare both).
bool g_rowCopy = [] {
  const char* v = std::getenv("TFJS_TORCH_ROW_COPY");
  return v == nullptr || std::strcmp(v, "0") != 0;
}();
int64_t g_rowCopyCalls = 0;

// Bytes one thread copies at least. The rows are split across libtorch's OpenMP team
// (ParallelRange, threads.cc); until 2026-12-07 these loops ran on the calling thread only, since
// ATen's inline parallel_for is serial in an addon built without -fopenmp. Single-threaded they
// already beat ATen's strided copies by 2-3x on the purifier's channel concatenations
// (docs/engine-speed.md).
constexpr int64_t kRowCopyGrainBytes = 64 * 1024;

// Whether the row-copy path applies: CPU, and every tensor of a dtype the table stores.
bool RowCopyUsable(const at::Tensor& t) {
  if (!g_rowCopy || !CurrentDevice().is_cpu() || !t.device().is_cpu()) return false;
  const at::ScalarType s = t.scalar_type();
  return s == at::kFloat || s == at::kInt || s == at::kBool;
}

// Viewed around `axis`, a contiguous tensor is [outer, inner] where outer is the product of the
// sizes before the axis and inner = size(axis) * the product after it: a concatenation along the
// axis is, row by row, the inputs' inner chunks one after another (only used for outer > 1).
// Both loops below copy those chunks with memcpy, so the result holds the inputs' exact bits.
int64_t OuterSize(const at::Tensor& t, int64_t axis) {
  int64_t n = 1;
  for (int64_t d = 0; d < axis; ++d) n *= t.size(d);
  return n;
}

// One row chunk. The purifier's dense blocks concatenate 8- to 48-channel maps, so a chunk is
// 32-192 bytes and a call to memcpy per chunk (its size dispatch included) cost more than the
// copy: fixed 16-byte moves compile to one load and one store each. Same bytes either way.
inline void CopyChunk(char* to, const char* from, size_t bytes) {
  if (bytes <= 256 && bytes % 16 == 0) {
    for (size_t k = 0; k < bytes; k += 16) std::memcpy(to + k, from + k, 16);
  } else {
    std::memcpy(to, from, bytes);
  }
}

// out[r, offset_i : offset_i + chunk_i] = xs[i][r, :] for every row r (all inputs contiguous,
// of out's dtype, non-empty).
void RowConcat(const std::vector<at::Tensor>& xs, at::Tensor& out, int64_t outer) {
  const int64_t elem = static_cast<int64_t>(out.element_size());
  const size_t n = xs.size();
  std::vector<const char*> src(n);
  std::vector<int64_t> chunk(n), offset(n);
  int64_t row = 0;
  for (size_t i = 0; i < n; ++i) {
    src[i] = static_cast<const char*>(xs[i].data_ptr());
    chunk[i] = (xs[i].numel() / outer) * elem;
    offset[i] = row;
    row += chunk[i];
  }
  char* dst = static_cast<char*>(out.data_ptr());
  const int64_t grain = std::max<int64_t>(1, kRowCopyGrainBytes / std::max<int64_t>(1, row));
  ParallelRange(0, outer, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      char* to = dst + r * row;
      for (size_t i = 0; i < n; ++i) CopyChunk(to + offset[i], src[i] + r * chunk[i], static_cast<size_t>(chunk[i]));
    }
  });
}

// The converse in one pass over x: parts[i][r, :] = x[r, offset_i : offset_i + chunk_i].
void RowSplit(const at::Tensor& x, std::vector<at::Tensor>& parts, int64_t outer) {
  const int64_t elem = static_cast<int64_t>(x.element_size());
  const size_t n = parts.size();
  std::vector<char*> dst(n);
  std::vector<int64_t> chunk(n), offset(n);
  int64_t row = 0;
  for (size_t i = 0; i < n; ++i) {
    dst[i] = static_cast<char*>(parts[i].data_ptr());
    chunk[i] = (parts[i].numel() / outer) * elem;
    offset[i] = row;
    row += chunk[i];
  }
  const char* src = static_cast<const char*>(x.data_ptr());
  const int64_t grain = std::max<int64_t>(1, kRowCopyGrainBytes / std::max<int64_t>(1, row));
  ParallelRange(0, outer, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const char* from = src + r * row;
      for (size_t i = 0; i < n; ++i) {
        if (chunk[i] > 0) CopyChunk(dst[i] + r * chunk[i], from + offset[i], static_cast<size_t>(chunk[i]));
      }
    }
  });
}

// concat([handles], axis, outDtype): TypeScript has dropped empty inputs and normalised the axis.
TT_FN(Concat) {
  std::vector<at::Tensor> xs = TensorListArg(info, 0);
  const int64_t axis = IntArg(info, 1);
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 2)));
  // .to() returns the tensor itself when the dtype already matches: no copy.
  for (at::Tensor& x : xs) x = x.to(out);
  bool rowCopy = !xs.empty() && axis >= 0 && axis < xs[0].dim();
  for (const at::Tensor& x : xs) rowCopy = rowCopy && RowCopyUsable(x) && x.dim() == xs[0].dim();
  // Along the leading axes (one row: axis 0, or only size-1 dims before the axis) ATen's cat copies
  // each input whole, in parallel: keep it there.
  if (!rowCopy || OuterSize(xs[0], axis) <= 1) return ReturnTensor(info.Env(), at::cat(xs, axis));
  // ATen's cat copies each input into a narrowed view of the result through its strided
  // TensorIterator path, slow when the chunks are short (a few channels of an NHWC map).
  std::vector<int64_t> shape(xs[0].sizes().begin(), xs[0].sizes().end());
  shape[axis] = 0;
  for (at::Tensor& x : xs) {
    for (int64_t d = 0; d < x.dim(); ++d) {
      if (d != axis && x.size(d) != xs[0].size(d)) throw std::runtime_error("concat: the inputs' shapes differ off the axis");
    }
    shape[axis] += x.size(axis);
    x = x.contiguous();  // a no-op for the table's tensors, which are contiguous but for filters
  }
  at::Tensor r = at::empty(shape, xs[0].options());
  RowConcat(xs, r, OuterSize(xs[0], axis));
  ++g_rowCopyCalls;
  return ReturnTensor(info.Env(), r);
}

// stack([handles], axis, outDtype)
TT_FN(Stack) {
  std::vector<at::Tensor> xs = TensorListArg(info, 0);
  const int64_t axis = IntArg(info, 1);
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 2)));
  for (at::Tensor& x : xs) x = x.to(out);
  return ReturnTensor(info.Env(), at::stack(xs, axis));
}

// unstack(x, axis): one tensor per index along axis.
TT_FN(Unstack) {
  const at::Tensor& x = TensorArg(info, 0);
  std::vector<at::Tensor> parts = at::unbind(x, NormAxis(IntArg(info, 1), x.dim()));
  return ReturnTensors(info.Env(), parts);
}

// split(x, sizes, axis)
TT_FN(Split) {
  const at::Tensor& x = TensorArg(info, 0);
  const std::vector<int64_t> sizes = IntListArg(info, 1);
  const int64_t axis = NormAxis(IntArg(info, 2), x.dim());
  int64_t total = 0;
  bool ok = true;
  for (int64_t s : sizes) { ok = ok && s >= 0; total += s; }
  if (!(RowCopyUsable(x) && ok && total == x.size(axis) && OuterSize(x, axis) > 1)) {
    // ATen's pieces are views, each made contiguous by Put(): one strided copy per piece, or none
    // along the leading axes, where each piece is a contiguous range of x (shared, not copied).
    return ReturnTensors(info.Env(), at::split_with_sizes(x, sizes, axis));
  }
  const at::Tensor src = x.contiguous();
  std::vector<at::Tensor> parts;
  parts.reserve(sizes.size());
  for (int64_t s : sizes) {
    std::vector<int64_t> shape(src.sizes().begin(), src.sizes().end());
    shape[axis] = s;
    parts.push_back(at::empty(shape, src.options()));
  }
  RowSplit(src, parts, OuterSize(src, axis));
  ++g_rowCopyCalls;
  return ReturnTensors(info.Env(), parts);
}

// setRowCopy(on): the process-wide switch of the row-copy Concat and Split.
TT_FN(SetRowCopy) {
  g_rowCopy = BoolArg(info, 0);
  return info.Env().Undefined();
}

// rowCopyStatus() -> { enabled, calls, parallelRanges }: calls counts Concat and Split calls that
// took the path; parallelRanges the addon's loops handed to a team of two or more (threads.cc).
TT_FN(RowCopyStatus) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("enabled", Napi::Boolean::New(env, g_rowCopy));
  o.Set("calls", Napi::Number::New(env, static_cast<double>(g_rowCopyCalls)));
  o.Set("parallelRanges", Napi::Number::New(env, static_cast<double>(ParallelRangeCount())));
  return o;
}

// tile(x, reps)
TT_FN(Tile) {
  const at::Tensor& x = TensorArg(info, 0);
  const std::vector<int64_t> reps = IntListArg(info, 1);
  // A pure broadcast (each tiled axis has size 1, as in the Sum/Mean gradients) is one strided
  // copy of an expanded view, which is cheaper than repeat()'s general path.
  bool broadcast = static_cast<int64_t>(reps.size()) == x.dim();
  std::vector<int64_t> target(reps.size());
  for (size_t i = 0; broadcast && i < reps.size(); ++i) {
    broadcast = reps[i] == 1 || x.size(static_cast<int64_t>(i)) == 1;
    target[i] = x.size(static_cast<int64_t>(i)) * reps[i];
  }
  if (broadcast) return ReturnTensor(info.Env(), x.expand(target).contiguous());
  return ReturnTensor(info.Env(), x.repeat(reps));
}

// pad(x, paddings [b0, a0, b1, a1, ...], value). ATen's list starts from the LAST dim.
TT_FN(Pad) {
  const at::Tensor& x = TensorArg(info, 0);
  std::vector<int64_t> p = IntListArg(info, 1);
  const double value = DoubleArg(info, 2);
  std::vector<int64_t> aten;
  for (int64_t d = x.dim() - 1; d >= 0; --d) { aten.push_back(p[2 * d]); aten.push_back(p[2 * d + 1]); }
  if (x.scalar_type() == at::kBool) {
    return ReturnTensor(info.Env(), at::constant_pad_nd(x.to(at::kByte), aten, value != 0 ? 1 : 0).ne(0));
  }
  return ReturnTensor(info.Env(), at::constant_pad_nd(x, aten, value));
}

// mirrorPad(x, paddings, symmetric): an index_select per padded dim ('reflect' excludes the edge,
// 'symmetric' repeats it; ATen's reflection_pad is 'reflect' only and limited to 3 dims).
TT_FN(MirrorPad) {
  at::Tensor t = TensorArg(info, 0);
  std::vector<int64_t> p = IntListArg(info, 1);
  const bool symmetric = BoolArg(info, 2);
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t before = p[2 * d], after = p[2 * d + 1], n = t.size(d);
    if (before == 0 && after == 0) continue;
    std::vector<int64_t> idx;
    idx.reserve(before + n + after);
    for (int64_t i = -before; i < n + after; ++i) {
      int64_t j = i;
      if (i < 0) j = symmetric ? -i - 1 : -i;
      else if (i >= n) j = symmetric ? 2 * n - 1 - i : 2 * (n - 1) - i;
      idx.push_back(j);
    }
    at::Tensor it = at::tensor(idx, at::TensorOptions().dtype(at::kLong)).to(t.device());
    t = at::index_select(t, d, it);
  }
  return ReturnTensor(info.Env(), t);
}

// reverse(x, dims)
TT_FN(Reverse) {
  const at::Tensor& x = TensorArg(info, 0);
  std::vector<int64_t> dims = IntListArg(info, 1);
  if (dims.empty()) return ReturnTensor(info.Env(), x.clone());
  return ReturnTensor(info.Env(), x.flip(dims));
}

// gather(x, indices, batchSize, outerSize, dimSize, sliceSize, outShape): tfjs's GatherV2 after
// collectGatherOpShapeInfo: x viewed as [B, O, D, S], indices as [B, I]; out[b,o,i,s] = x[b,o,idx[b,i],s].
TT_FN(Gather) {
  const at::Tensor& x = TensorArg(info, 0);
  const at::Tensor& indices = TensorArg(info, 1);
  const int64_t B = IntArg(info, 2), O = IntArg(info, 3), D = IntArg(info, 4), S = IntArg(info, 5);
  std::vector<int64_t> outShape = IntListArg(info, 6);
  at::Tensor x4 = x.reshape({B, O, D, S});
  at::Tensor idx = indices.to(at::kLong).reshape({B, -1});
  const int64_t I = idx.size(1);
  if (I > 0) {
    at::Tensor bad = at::logical_or(idx < 0, idx >= D).reshape({-1});
    if (bad.any().item<bool>()) {
      // Same wording as the cpu kernel, naming the first offending index.
      const int64_t first = at::nonzero(bad).select(1, 0)[0].item<int64_t>();
      const int64_t value = idx.reshape({-1})[first].item<int64_t>();
      throw std::runtime_error("GatherV2: the index value " + std::to_string(value) + " is not in [0, " +
                               std::to_string(D - 1) + "]");
    }
  }
  at::Tensor r;
  if (x4.device().is_cpu() && B > 1 && I > 0 && (x4.scalar_type() == at::kFloat || x4.scalar_type() == at::kInt)) {
    // A batched gather (one index row per batch entry: FAB's projection reorders each row by its
    // own permutation) as a plain copy loop; ATen's gather over the expanded index runs its
    // general strided path, about ten times slower on [rows, 784]. A copy, so the same bits.
    const at::Tensor src = x4.contiguous();
    const at::Tensor ix = idx.contiguous();
    r = at::empty({B, O, I, S}, src.options());
    const int64_t elem = static_cast<int64_t>(src.element_size());
    const char* ps = static_cast<const char*>(src.data_ptr());
    const int64_t* pi = ix.data_ptr<int64_t>();
    char* pr = static_cast<char*>(r.data_ptr());
    ParallelRange(0, B * O, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, I * S)), [&](int64_t begin, int64_t end) {
      for (int64_t bo = begin; bo < end; ++bo) {
        const int64_t b = bo / O;
        const char* from = ps + bo * D * S * elem;
        char* to = pr + bo * I * S * elem;
        const int64_t* row = pi + b * I;
        for (int64_t i = 0; i < I; ++i) std::memcpy(to + i * S * elem, from + row[i] * S * elem, static_cast<size_t>(S * elem));
      }
    });
  } else if (B == 1) {
    r = at::index_select(x4, 2, idx.reshape({-1}));
  } else {
    r = x4.gather(2, idx.reshape({B, 1, I, 1}).expand({B, O, I, S}));
  }
  return ReturnTensor(info.Env(), r.reshape(outShape));
}

// oneHot(indices, depth, on, off, dtype): out-of-range indices (including -1) give an all-off row
// as in tfjs, where at::one_hot would throw.
TT_FN(OneHot) {
  const at::Tensor& indices = TensorArg(info, 0);
  const int64_t depth = IntArg(info, 1);
  const double on = DoubleArg(info, 2), off = DoubleArg(info, 3);
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 4)));
  if (indices.device().is_cpu() && indices.scalar_type() == at::kInt && (out == at::kFloat || out == at::kInt)) {
    // A plain loop: the composition below is seven ATen calls (about 90 us on a 4 x 10 result),
    // and margin losses call this once per attack query.
    at::Tensor idx = indices.contiguous();
    std::vector<int64_t> shape(idx.sizes().begin(), idx.sizes().end());
    shape.push_back(depth);
    at::Tensor r = at::empty(shape, at::TensorOptions().dtype(out));
    const int32_t* in = idx.data_ptr<int32_t>();
    const int64_t n = idx.numel();
    if (out == at::kFloat) {
      float* o = r.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t k = 0; k < depth; ++k) o[i * depth + k] = static_cast<float>(in[i] == k ? on : off);
      }
    } else {
      int32_t* o = r.data_ptr<int32_t>();
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t k = 0; k < depth; ++k) o[i * depth + k] = static_cast<int32_t>(in[i] == k ? on : off);
      }
    }
    return ReturnTensor(info.Env(), r);
  }
  at::Tensor idx = indices.to(at::kLong).unsqueeze(-1);
  at::Tensor classes = at::arange(depth, idx.options());
  at::Tensor hit = idx.eq(classes);  // broadcasts to [..., depth]
  const at::TensorOptions dopt = idx.options().dtype(at::kDouble);  // same device as the indices
  at::Tensor r = at::where(hit, at::full({}, on, dopt), at::full({}, off, dopt));
  return ReturnTensor(info.Env(), ToOut(r, out));
}

// fill(shape, value, dtype)
TT_FN(Fill) {
  std::vector<int64_t> shape = IntListArg(info, 0);
  const double value = DoubleArg(info, 1);
  const at::ScalarType out = ToScalarType(static_cast<int32_t>(IntArg(info, 2)));
  at::Tensor r = at::full(shape, value, at::TensorOptions().dtype(at::kDouble).device(CurrentDevice()));
  return ReturnTensor(info.Env(), ToOut(r, out));
}

// scatterNd(indices, updates, sliceRank, numUpdates, sliceSize, strides, outputSize, shape): tfjs's
// ScatterNd after backend_util.calculateShapes; duplicate indices are summed.
TT_FN(ScatterNd) {
  const at::Tensor& indices = TensorArg(info, 0);
  const at::Tensor& updates = TensorArg(info, 1);
  const int64_t sliceRank = IntArg(info, 2), numUpdates = IntArg(info, 3), sliceSize = IntArg(info, 4);
  std::vector<int64_t> strides = IntListArg(info, 5);
  const int64_t outputSize = IntArg(info, 6);
  std::vector<int64_t> shape = IntListArg(info, 7);
  const int64_t rows = sliceSize > 0 ? outputSize / sliceSize : 0;
  at::Tensor idx = indices.to(at::kLong).reshape({numUpdates, sliceRank});
  at::Tensor st = at::tensor(strides, at::TensorOptions().dtype(at::kLong)).to(idx.device());
  at::Tensor flat = (idx * st).sum(1);
  at::Tensor bad = at::logical_or(flat < 0, flat >= rows);
  if (numUpdates > 0 && bad.any().item<bool>()) {
    const int64_t first = at::nonzero(bad).select(1, 0)[0].item<int64_t>();
    std::string where;
    at::Tensor row = idx[first].to(at::kCPU);
    for (int64_t j = 0; j < sliceRank; ++j) where += (j ? "," : "") + std::to_string(row[j].item<int64_t>());
    std::string shp;
    for (size_t j = 0; j < shape.size(); ++j) shp += (j ? "," : "") + std::to_string(shape[j]);
    throw std::runtime_error("Invalid indices: " + where + " does not index into " + shp);
  }
  at::Tensor out = at::zeros({rows, sliceSize}, updates.options());
  if (numUpdates > 0) out.index_add_(0, flat, updates.reshape({numUpdates, sliceSize}));
  return ReturnTensor(info.Env(), out.reshape(shape));
}

}  // namespace

void RegisterShape(Napi::Env env, Napi::Object exports) {
  TT_EXPORT(exports, env, Reshape);
  TT_EXPORT(exports, env, Transpose);
  TT_EXPORT(exports, env, Slice);
  TT_EXPORT(exports, env, StridedSlice);
  TT_EXPORT(exports, env, Concat);
  TT_EXPORT(exports, env, Stack);
  TT_EXPORT(exports, env, Unstack);
  TT_EXPORT(exports, env, Split);
  TT_EXPORT(exports, env, SetRowCopy);
  TT_EXPORT(exports, env, RowCopyStatus);
  TT_EXPORT(exports, env, Tile);
  TT_EXPORT(exports, env, Pad);
  TT_EXPORT(exports, env, MirrorPad);
  TT_EXPORT(exports, env, Reverse);
  TT_EXPORT(exports, env, Gather);
  TT_EXPORT(exports, env, OneHot);
  TT_EXPORT(exports, env, Fill);
  TT_EXPORT(exports, env, ScatterNd);
}

}  // namespace tt
