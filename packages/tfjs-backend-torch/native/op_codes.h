// The op codes of the native op families, listed once. The C++ enums are built from these lists
// (TT_OP_ENUM), and the addon exports them as `opCodes` (ops_core.cc), from which the TypeScript
// kernels take their codes at load (src/kernels/core/ops.ts), so the two sides cannot drift.
// A code is an entry's position in its list; add entries anywhere, nothing else needs renumbering.
#pragma once

#define TT_UNARY_OPS(X)                                                                            \
  X(Neg) X(Exp) X(Log) X(Log1p) X(Sqrt) X(Rsqrt) X(Square) X(Abs) X(Sign) X(Floor) X(Ceil)      \
  X(Round) X(Sigmoid) X(Tanh) X(Relu) X(Relu6) X(LeakyRelu) X(Elu) X(Step) X(IsNan) X(IsInf)    \
  X(IsFinite) X(Cos) X(Sin) X(Tan) X(Acos) X(Asin) X(Atan) X(Cosh) X(Sinh) X(Acosh) X(Asinh)    \
  X(Atanh) X(Erf) X(Softplus) X(Expm1) X(Reciprocal) X(Selu) X(LogicalNot) X(ZerosLike)         \
  X(OnesLike)

// Arithmetic first, then comparisons and logical ops from Equal on: both sides test
// `op >= Equal` to give those a bool result, so keep them after Equal.
#define TT_BINARY_OPS(X)                                                                           \
  X(Add) X(Sub) X(Multiply) X(RealDiv) X(FloorDiv) X(Mod) X(Maximum) X(Minimum) X(Pow)          \
  X(SquaredDifference) X(Atan2) X(EluGrad) X(Prelu)                                              \
  X(Equal) X(NotEqual) X(Greater) X(GreaterEqual) X(Less) X(LessEqual) X(LogicalAnd)            \
  X(LogicalOr) X(LogicalXor)

#define TT_REDUCE_OPS(X) X(Sum) X(Mean) X(Max) X(Min) X(Prod) X(Any) X(All)

// Fused activations of FusedConv2D / _FusedMatMul (tfjs's names, lower-cased on the TS side).
#define TT_ACTIVATIONS(X) X(Linear) X(Relu) X(Relu6) X(Elu) X(Sigmoid) X(LeakyRelu) X(Prelu)

// Enum entries k<Name>, in list order from 0.
#define TT_OP_ENUM(name) k##name,
