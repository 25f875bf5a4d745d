/**
 * Training-mode batch norm of the toolkit's tfjs-layers networks as the engine's fused native
 * call (issue "speed"): tfjs-layers composes moments + batchNorm and their gradients from many
 * small kernels; on the `torch` backend this replaces them with one kernel forward and one
 * backward. Semantics stay tfjs-layers' own: batch mean and biased variance for the output,
 * gradients through them, running statistics updated with keras momentum
 * (r <- r - (r - batchStat) (1 - momentum), biased variance), the layer's epsilon.
 *
 * Installed once, when the models are first imported, by patching BatchNormalization's `call`.
 * Anything the fused path does not cover (inference, other backends, channels-first, no
 * gamma/beta, non-float32 input) keeps the stock call. The data-parallel trainer's SyncBatchNorm
 * patches the same method later, at run time, and falls back to whatever it found (this), so with
 * `--sync-bn` the global-statistics path wins and, once it is removed, this one is back.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNormTraining, fusedOpsAvailable } from 'tfjs-backend-torch/fused';

type LayerCall = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** The fields of tfjs-layers' BatchNormalization that the fused path reads (not in its typings). */
export interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: { read(): tf.Tensor } | null;
  beta: { read(): tf.Tensor } | null;
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
}

let installed = false;

/** Patches tfjs-layers' BatchNormalization once (idempotent). */
export function installFusedBatchNorm(): void {
  if (installed) return;
  installed = true;
  const proto = Object.getPrototypeOf(tfl.layers.batchNormalization({})) as { call: LayerCall };
  const stock = proto.call;
  proto.call = function (this: BatchNormLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const usable = kwargs['training'] === true && inputs !== undefined && (!Array.isArray(inputs) || inputs.length === 1)
      && x.rank >= 2 && x.dtype === 'float32' && (this.axis === -1 || this.axis === x.rank - 1)
      && this.gamma !== null && this.beta !== null && fusedOpsAvailable();
    if (!usable) return stock.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const r = batchNormTraining(x, {
        scale: this.gamma!.read() as tf.Tensor1D, offset: this.beta!.read() as tf.Tensor1D,
        momentum: 0, epsilon: this.epsilon, withBatchStatistics: true,
      });
      const decay = 1 - this.momentum;
      for (const [variable, value] of [[this.movingMean, r.batchMean!], [this.movingVariance, r.batchVariance!]] as const) {
        tf.tidy(() => {
          const orig = variable.read();
          variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), decay)));
        });
      }
      return r.y;
    });
  };
}
