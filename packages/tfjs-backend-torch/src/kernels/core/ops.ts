/**
 * Op codes of the native element-wise/reduction families (keep in sync with the enums in
 * native/ops_elementwise.cc and native/ops_reduce.cc), and the two kernel factories every
 * unary/binary kernel file uses.
 */
import { DataType, KernelConfig, TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { DTYPE_CODE } from '../../native.js';
import { nativeKernel, run } from '../../kernel_util.js';

export const UNARY = {
  Neg: 0, Exp: 1, Log: 2, Log1p: 3, Sqrt: 4, Rsqrt: 5, Square: 6, Abs: 7, Sign: 8, Floor: 9, Ceil: 10,
  Round: 11, Sigmoid: 12, Tanh: 13, Relu: 14, Relu6: 15, LeakyRelu: 16, Elu: 17, Step: 18, IsNan: 19,
  IsInf: 20, IsFinite: 21, Cos: 22, Sin: 23, Tan: 24, Acos: 25, Asin: 26, Atan: 27, Cosh: 28, Sinh: 29,
  Acosh: 30, Asinh: 31, Atanh: 32, Erf: 33, Softplus: 34, Expm1: 35, Reciprocal: 36, Selu: 37,
  LogicalNot: 38, ZerosLike: 39, OnesLike: 40,
} as const;

export const BINARY = {
  Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, FloorDiv: 4, Mod: 5, Maximum: 6, Minimum: 7, Pow: 8,
  SquaredDifference: 9, Atan2: 10, EluGrad: 11, Prelu: 12,
  Equal: 20, NotEqual: 21, Greater: 22, GreaterEqual: 23, Less: 24, LessEqual: 25, LogicalAnd: 26,
  LogicalOr: 27, LogicalXor: 28,
} as const;

export const REDUCE = { Sum: 0, Mean: 1, Max: 2, Min: 3, Prod: 4, Any: 5, All: 6 } as const;

export function dtypeCode(dtype: DataType): number {
  const code = DTYPE_CODE[dtype as keyof typeof DTYPE_CODE];
  if (code === undefined) throw new Error(`torch backend: dtype '${dtype}' is not stored natively`);
  return code;
}

/**
 * A unary kernel. The output dtype follows the tfjs cpu kernels: the input's dtype unless
 * `outDtype` fixes it (Exp/LeakyRelu give float32, IsNan/IsInf/IsFinite/LogicalNot give bool).
 * `alphaAttr` names a numeric attribute passed through (LeakyRelu, Step).
 */
export function unaryKernel(kernelName: string, op: number, outDtype?: DataType, alphaAttr?: string, alphaDefault = 0): KernelConfig {
  return nativeKernel(kernelName, ({ inputs, attrs, backend }) => {
    const x = inputs.x as TensorInfo;
    const alpha = alphaAttr !== undefined ? Number((attrs as Record<string, unknown>)[alphaAttr] ?? alphaDefault) : 0;
    return run(backend, 'unary', op, backend.handle(x), alpha, dtypeCode(outDtype ?? x.dtype));
  });
}

/**
 * A binary kernel with numpy broadcasting. Arithmetic gives `upcastType(a, b)` (bool < int32 <
 * float32), comparisons and logical ops give bool, `outDtype` overrides.
 */
export function binaryKernel(kernelName: string, op: number, outDtype?: DataType | ((a: DataType, b: DataType) => DataType), names: [string, string] = ['a', 'b']): KernelConfig {
  return nativeKernel(kernelName, ({ inputs, backend }) => {
    const a = (inputs as unknown as Record<string, TensorInfo>)[names[0]];
    const b = (inputs as unknown as Record<string, TensorInfo>)[names[1]];
    let dtype: DataType;
    if (typeof outDtype === 'function') dtype = outDtype(a.dtype, b.dtype);
    else if (outDtype !== undefined) dtype = outDtype;
    else if (op >= BINARY.Equal) dtype = 'bool';
    else dtype = backend_util.upcastType(a.dtype, b.dtype);
    // A rank-0 operand still held in JS goes by value (no upload, no handle): tfjs creates one
    // for every `mul(x, 2)`-style call.
    const av = a.shape.length === 0 ? backend.jsValues(a) : null;
    const bv = b.shape.length === 0 ? backend.jsValues(b) : null;
    if (bv !== null && av === null && typeof bv[0] === 'number') {
      return run(backend, 'binaryScalar', op, backend.handle(a), bv[0], false, dtypeCode(b.dtype), dtypeCode(dtype));
    }
    if (av !== null && bv === null && typeof av[0] === 'number') {
      return run(backend, 'binaryScalar', op, backend.handle(b), av[0], true, dtypeCode(a.dtype), dtypeCode(dtype));
    }
    return run(backend, 'binary', op, backend.handle(a), backend.handle(b), dtypeCode(dtype));
  });
}
