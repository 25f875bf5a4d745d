/**
 * Op codes of the native element-wise/reduction families, and the two kernel factories every
 * unary/binary kernel file uses. The codes come from the addon (`opCodes`, built from the lists
 * in native/op_codes.h), so they are defined once; the names below are what the kernels may ask
 * for, checked against the addon when the kernels are registered (opCodeMismatches()).
 */
import { DataType, KernelConfig, TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { DTYPE_CODE, loadNative, type NativeOpCodes } from '../../native.js';
import { nativeKernel, run } from '../../kernel_util.js';

const UNARY_NAMES = [
  'Neg', 'Exp', 'Log', 'Log1p', 'Sqrt', 'Rsqrt', 'Square', 'Abs', 'Sign', 'Floor', 'Ceil', 'Round',
  'Sigmoid', 'Tanh', 'Relu', 'Relu6', 'LeakyRelu', 'Elu', 'Step', 'IsNan', 'IsInf', 'IsFinite', 'Cos',
  'Sin', 'Tan', 'Acos', 'Asin', 'Atan', 'Cosh', 'Sinh', 'Acosh', 'Asinh', 'Atanh', 'Erf', 'Softplus',
  'Expm1', 'Reciprocal', 'Selu', 'LogicalNot', 'ZerosLike', 'OnesLike',
] as const;
const BINARY_NAMES = [
  'Add', 'Sub', 'Multiply', 'RealDiv', 'FloorDiv', 'Mod', 'Maximum', 'Minimum', 'Pow', 'SquaredDifference',
  'Atan2', 'EluGrad', 'Prelu', 'Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual',
  'LogicalAnd', 'LogicalOr', 'LogicalXor',
] as const;
const REDUCE_NAMES = ['Sum', 'Mean', 'Max', 'Min', 'Prod', 'Any', 'All'] as const;
const ACTIVATION_NAMES = ['Linear', 'Relu', 'Relu6', 'Elu', 'Sigmoid', 'LeakyRelu', 'Prelu'] as const;

const mismatches: string[] = [];

/** The addon's codes for `names` (-1 without an addon, when no kernel runs anyway). */
function nativeCodes<N extends string>(family: keyof NativeOpCodes, names: readonly N[]): Readonly<Record<N, number>> {
  const table = loadNative().binding?.opCodes?.[family];
  const out = {} as Record<N, number>;
  for (const name of names) {
    const code = table?.[name];
    if (table !== undefined && code === undefined) mismatches.push(`${family} op '${name}'`);
    out[name] = code ?? -1;
  }
  return out;
}

export const UNARY = nativeCodes('unary', UNARY_NAMES);
export const BINARY = nativeCodes('binary', BINARY_NAMES);
export const REDUCE = nativeCodes('reduce', REDUCE_NAMES);
export const ACTIVATION = nativeCodes('activation', ACTIVATION_NAMES);

/** Op names the TypeScript side uses that the loaded addon does not define (an out-of-date build). */
export function opCodeMismatches(): readonly string[] {
  return mismatches;
}

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
