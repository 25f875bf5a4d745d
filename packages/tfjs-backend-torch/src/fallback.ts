/**
 * Generic per-kernel CPU delegation (guide §5): any tfjs kernel without a native implementation
 * runs on the stock cpu backend's kernel, with the data copied across. The cpu backend used here is
 * a private `MathBackendCPU` that is never registered with the engine, so the engine only ever
 * sees dataIds of the torch backend and its leak check still holds: every cpu-side tensor made
 * here is disposed before the kernel returns.
 *
 * Costs two copies per tensor: fine for the rare kernels that get here (strings, sparse, ragged,
 * NMS, bincount, CropAndResize...). Kernels a training loop calls are native (src/kernels/).
 */
import {
  BackendValues, DataType, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo, backend_util, getKernel,
} from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { TorchBackend, countKernel } from './backend.js';

type Inputs = TensorInfo | Inputs[] | { [name: string]: Inputs };

const cpuBackends = new WeakMap<TorchBackend, MathBackendCPU>();

function cpuFor(backend: TorchBackend): MathBackendCPU {
  let cpu = cpuBackends.get(backend);
  if (cpu === undefined) {
    cpu = new MathBackendCPU();
    // Its first write() would print "looks like you are running TensorFlow.js in Node.js... install
    // tfjs-node": misleading here, where it only serves rare kernels of the torch backend.
    (cpu as unknown as { firstUse: boolean }).firstUse = false;
    cpuBackends.set(backend, cpu);
  }
  return cpu;
}

function isTensorInfo(x: unknown): x is TensorInfo {
  return x !== null && typeof x === 'object' && 'dataId' in (x as object) && 'shape' in (x as object);
}

/**
 * Runs the cpu backend's `kernelName` on torch-backend inputs and returns torch-backend outputs.
 * Exported for native kernels that delegate some cases (string/complex dtypes, rare attributes).
 */
export function runOnCpu(kernelName: string, inputs: unknown, attrs: NamedAttrMap, backend: TorchBackend): TensorInfo | TensorInfo[] {
  const config = getKernel(kernelName, 'cpu');
  if (config === undefined) throw new Error(`torch backend: no native or cpu kernel '${kernelName}'`);
  const cpu = cpuFor(backend);
  const made: TensorInfo[] = [];
  const moved = new Map<object, TensorInfo>();

  const toCpu = (t: TensorInfo): TensorInfo & { rank: number } => {
    let c = moved.get(t.dataId);
    if (c === undefined) {
      const values = backend.readSync(t.dataId);
      if (t.dtype === 'complex64') {
        // cpu stores complex64 as a container of two float32 tensors: rebuild it with its own kernel.
        const parts = backend_util.splitRealAndImagArrays(values as Float32Array);
        const re = cpu.makeTensorInfo(t.shape, 'float32', parts.real);
        const im = cpu.makeTensorInfo(t.shape, 'float32', parts.imag);
        c = getKernel('Complex', 'cpu')!.kernelFunc({ inputs: { real: re, imag: im }, backend: cpu, attrs: {} }) as TensorInfo;
        cpu.disposeIntermediateTensorInfo(re);
        cpu.disposeIntermediateTensorInfo(im);
      } else {
        c = { dataId: cpu.write(values, t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
      }
      moved.set(t.dataId, c);
      made.push(c);
    }
    // Some cpu kernels read `.rank` (they are written against Tensors).
    return { ...c, rank: t.shape.length };
  };

  const convert = (x: unknown): unknown => {
    if (x === null || x === undefined) return x;
    if (isTensorInfo(x)) return toCpu(x);
    if (Array.isArray(x)) return x.map(convert);
    if (typeof x === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(x as object)) out[k] = convert(v);
      return out;
    }
    return x;
  };

  let cpuOut: TensorInfo | TensorInfo[] | undefined;
  try {
    const cpuInputs = convert(inputs);
    cpuOut = config.kernelFunc({ inputs: cpuInputs as never, attrs, backend: cpu }) as TensorInfo | TensorInfo[];
    const outs = Array.isArray(cpuOut) ? cpuOut : [cpuOut];
    const results = outs.map((o) => {
      const values = cpu.readSync(o.dataId) as BackendValues;
      return backend.makeTensorInfo(o.shape.slice(), o.dtype as DataType, values);
    });
    return Array.isArray(cpuOut) ? results : results[0];
  } finally {
    // Outputs first (they may alias inputs: refcounts make the order irrelevant), then inputs.
    if (cpuOut !== undefined) for (const o of Array.isArray(cpuOut) ? cpuOut : [cpuOut]) cpu.disposeData(o.dataId);
    for (const c of made) cpu.disposeData(c.dataId);
  }
}

/** A kernel config for 'torch' that runs the cpu implementation of `kernelName`. */
export function fallbackConfig(kernelName: string): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const b = backend as TorchBackend;
    countKernel(kernelName, false);
    return runOnCpu(kernelName, inputs as Inputs, attrs ?? {}, b);
  };
  return { kernelName, backendName: 'torch', kernelFunc };
}
