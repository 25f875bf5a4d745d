/**
 * Gradients through a tfjs-layers model on the wasm backend, fast enough for attacks.
 *
 * 1. tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, and tfjs-layers runs a convolution
 *    with a bias as `fused.conv2d`, whose custom gradient computes the filter gradient eagerly even
 *    when only the input gradient is wanted: without the kernel every attack fails at its first
 *    step. `registerWasmGradients` adds it, built from kernels wasm has (XNNPACK matmul): the
 *    KH·KW shifted, strided views of the zero-padded input, concatenated along channels, form an
 *    im2col matrix [N·Ho·Wo, KH·KW·Cin], and dW = im2colᵀ · dy is one matrix product.
 * 2. wasm's own Conv2DBackpropInput is a plain loop, ~60x slower than its XNNPACK forward
 *    convolution on the JATP purifier. For stride 1 (every purifier convolution) the input gradient
 *    is itself a convolution: dy, padded by (K-1-pad), convolved with the filter rotated by 180°
 *    and with its in/out channels swapped. Other strides keep the wasm kernel.
 * 3. `unfuseConvolutions(model)` makes a loaded model's Conv2D layers run conv2d + bias add, the
 *    same arithmetic as the fused op on the cpu backend, so the filter gradient (which an attack
 *    throws away) is only computed when someone asks for it.
 * 4. Concat and SplitV along the channel axis (the purifier's dense blocks, forward and backward)
 *    copy a few channels per pixel in a JavaScript loop on wasm; as [pixels, channels] →
 *    [channels, pixels] transposes they become whole-block copies, several times faster at batch 32.
 *    These run the backend's kernels directly (not tfjs ops), so nothing is recorded on a gradient tape.
 * Only the NHWC layout (what tfjs-layers uses in the browser) is handled; anything else says so or
 * falls back to the original kernel.
 */
import * as tf from '@tensorflow/tfjs';

interface ConvGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

/** dW of a 2-D convolution (NHWC, dilation 1) from plain tfjs ops. */
export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: ConvGradAttrs): tf.Tensor4D {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropFilter on wasm: only the NHWC layout is supported, got ${attrs.dataFormat}`);
  }
  const filterShape = attrs.filterShape!;
  const [kh, kw, cin, cout] = filterShape;
  const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { top, left } = info.padInfo;
  const [n, h, w] = x.shape;
  const { outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  return tf.tidy(() => {
    // Rows/columns the last window reaches past the input are zeros, as in the forward pass.
    const bottom = Math.max(0, (ho - 1) * sh + kh - top - h);
    const right = Math.max(0, (wo - 1) * sw + kw - left - w);
    const padded: tf.Tensor4D = top + bottom + left + right > 0 ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]) : x;
    const views: tf.Tensor4D[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        views.push(
          sh === 1 && sw === 1
            ? tf.slice(padded, [0, i, j, 0], [n, ho, wo, cin])
            : (tf.stridedSlice(padded, [0, i, j, 0], [n, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, cin], [1, sh, sw, 1]) as tf.Tensor4D),
        );
      }
    }
    const columns = tf.reshape(views.length === 1 ? views[0]! : tf.concat(views, 3), [n * ho * wo, kh * kw * cin]);
    const grad = tf.matMul(columns, tf.reshape(dy, [n * ho * wo, cout]), true, false);
    return tf.reshape(grad, [kh, kw, cin, cout]);
  });
}

/**
 * dx of a stride-1 convolution as a forward convolution, or undefined when the attributes are not
 * that case (the caller then uses the backend's own kernel).
 */
export function conv2dInputGradientByConv(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: ConvGradAttrs): tf.Tensor4D | undefined {
  const inputShape = attrs.inputShape!;
  const [kh, kw] = filter.shape;
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') return undefined;
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return undefined;
  const [, h, w] = inputShape;
  const { top, left } = info.padInfo;
  const pt = kh - 1 - top;
  const pl = kw - 1 - left;
  const pb = h - info.outHeight + top;
  const pr = w - info.outWidth + left;
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) return undefined;
  return tf.tidy(() => {
    // W'[i, j, co, ci] = W[kh-1-i, kw-1-j, ci, co]
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(dy, flipped, 1, [[0, 0], [pt, pb], [pl, pr], [0, 0]]);
  });
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Wraps a kernel's TensorInfo as a Tensor that owns one reference, so disposing it leaves the caller's input alive. */
function wrap(args: KernelArgs, name: string): tf.Tensor4D {
  const info = args.inputs[name] as tf.TensorInfo;
  (args.backend as unknown as { incRef(id: unknown): void }).incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor4D;
}

let registered = false;

/** Registers the wasm kernels above (once). */
export function registerWasmGradients(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm') === undefined) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: (args) => {
        const x = wrap(args, 'x');
        const dy = wrap(args, 'dy');
        try {
          // A Tensor (not a bare TensorInfo) returned by a kernel is taken over by the engine as is.
          return conv2dFilterGradient(x, dy, args.attrs as unknown as ConvGradAttrs) as unknown as tf.TensorInfo;
        } finally {
          tf.dispose([x, dy]);
        }
      },
    });
  }
  fastChannelKernels();
  const original = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (original !== undefined) {
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel({
      ...original,
      kernelFunc: (args) => {
        const dy = wrap(args, 'dy');
        const filter = wrap(args, 'filter');
        try {
          const viaConv = conv2dInputGradientByConv(dy, filter, args.attrs as unknown as ConvGradAttrs);
          return (viaConv ?? original.kernelFunc(args)) as tf.TensorInfo;
        } finally {
          tf.dispose([dy, filter]);
        }
      },
    });
  }
}

interface WasmBackendLike {
  disposeData(id: unknown): void;
}

/** Runs a kernel of the backend directly, as backends compose kernels (no tape, no engine bookkeeping). */
function runKernel(name: string, backend: unknown, inputs: tf.NamedTensorInfoMap, attrs: object, kernel = tf.getKernel(name, 'wasm')): tf.TensorInfo {
  return kernel!.kernelFunc({ inputs, backend: backend as never, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
}

function fastChannelKernels(): void {
  const concat = tf.getKernel('Concat', 'wasm');
  const split = tf.getKernel('SplitV', 'wasm');
  const slice = tf.getKernel('Slice', 'wasm');
  if (!concat || !split || !slice) return;
  tf.unregisterKernel('Concat', 'wasm');
  tf.registerKernel({
    ...concat,
    kernelFunc: (args) => {
      const inputs = args.inputs as unknown as tf.TensorInfo[];
      const rank = inputs[0]!.shape.length;
      const axis = tf.util.parseAxisParam((args.attrs as { axis: number }).axis, inputs[0]!.shape)[0]!;
      const rows = tf.util.sizeFromShape(inputs[0]!.shape.slice(0, -1));
      if (rank < 2 || axis !== rank - 1 || rows < 64 || inputs.some((t) => t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) === 0)) return concat.kernelFunc(args);
      const be = args.backend as unknown as WasmBackendLike;
      const temps: tf.TensorInfo[] = [];
      const columns = inputs.map((t) => {
        const flat = runKernel('Reshape', be, { x: t }, { shape: [rows, t.shape[rank - 1]!] });
        const c = runKernel('Transpose', be, { x: flat }, { perm: [1, 0] });
        temps.push(flat, c);
        return c;
      });
      const joined = runKernel('Concat', be, columns as unknown as tf.NamedTensorInfoMap, { axis: 0 }, concat);
      const back = runKernel('Transpose', be, { x: joined }, { perm: [1, 0] });
      const channels = inputs.reduce((acc, t) => acc + t.shape[rank - 1]!, 0);
      const out = runKernel('Reshape', be, { x: back }, { shape: [...inputs[0]!.shape.slice(0, -1), channels] });
      for (const t of [...temps, joined, back]) be.disposeData(t.dataId);
      return out;
    },
  });
  tf.unregisterKernel('SplitV', 'wasm');
  tf.registerKernel({
    ...split,
    kernelFunc: (args) => {
      const x = args.inputs['x'] as tf.TensorInfo;
      const rank = x.shape.length;
      const attrs = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
      const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0]!;
      const rows = tf.util.sizeFromShape(x.shape.slice(0, -1));
      if (rank < 2 || axis !== rank - 1 || rows < 64 || x.dtype !== 'float32') return split.kernelFunc(args);
      const sizes = tf.backend_util.prepareSplitSize(x, attrs.numOrSizeSplits, axis);
      const be = args.backend as unknown as WasmBackendLike;
      const flat = runKernel('Reshape', be, { x }, { shape: [rows, x.shape[rank - 1]!] });
      const columns = runKernel('Transpose', be, { x: flat }, { perm: [1, 0] });
      let start = 0;
      const outs = sizes.map((size) => {
        const part = runKernel('Slice', be, { x: columns }, { begin: [start, 0], size: [size, rows] }, slice);
        start += size;
        const t = runKernel('Transpose', be, { x: part }, { perm: [1, 0] });
        const out = runKernel('Reshape', be, { x: t }, { shape: [...x.shape.slice(0, -1), size] });
        be.disposeData(part.dataId);
        be.disposeData(t.dataId);
        return out;
      });
      be.disposeData(flat.dataId);
      be.disposeData(columns.dataId);
      return outs;
    },
  });
}

interface ConvLayerInternals {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number | number[];
  rank: number;
  activation: { apply(x: tf.Tensor): tf.Tensor };
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): tf.Tensor;
}

/** Runs a model's 2-D convolutions as conv2d + bias add (see the file comment); returns how many were changed. */
export function unfuseConvolutions(model: tf.LayersModel): number {
  let changed = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Conv2D') continue;
    const conv = layer as unknown as ConvLayerInternals;
    if (conv.rank !== 2 || conv.dataFormat !== 'channelsLast' || (conv.padding !== 'same' && conv.padding !== 'valid')) continue;
    conv.call = (inputs) =>
      tf.tidy(() => {
        const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
        const dilation = conv.dilationRate as number | [number, number];
        let y: tf.Tensor = tf.conv2d(x, conv.kernel.read() as tf.Tensor4D, conv.strides as [number, number], conv.padding as 'same' | 'valid', 'NHWC', dilation);
        if (conv.bias) y = tf.add(y, conv.bias.read());
        return conv.activation.apply(y);
      });
    changed++;
  }
  return changed;
}
