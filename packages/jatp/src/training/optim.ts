/**
 * Optimizers with inspectable state, so a checkpoint can hold every slot and a resumed run is
 * bitwise identical to an uninterrupted one. tfjs' built-in optimizers keep their slots private
 * (and tfjs' momentum optimizer applies weight decay nowhere), so we implement the two we need.
 *
 * - `SgdMomentum`: PyTorch `torch.optim.SGD` semantics (spec §3.2: SGD momentum 0.9 + weight decay):
 *     g <- grad + weightDecay * p;   v <- momentum * v + g  (v = g on the first step);   p <- p - lr * v
 *   (PyTorch initialises the buffer with the first gradient; with v0 = 0 and dampening 0 this is the
 *   same value, so we start from zeros and keep one code path.)
 * - `Adam`: PyTorch `torch.optim.Adam` (L2 weight decay added to the gradient, bias-corrected moments):
 *     g <- grad + wd * p; m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2;
 *     p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *
 * Both extend `tf.Optimizer`, so recipes use them through the `Recipe.step` contract
 * (`optimizers[group].applyGradients(grads)`), and both key gradients by variable name.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What `tf.Optimizer.applyGradients` accepts: a name->gradient map or a list of named tensors. */
type GradientsArg = Parameters<tf.Optimizer['applyGradients']>[0];

/** An optimizer by kind and hyper-parameters (defaults: OPTIMIZER_DEFAULTS). Example: `{ kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }`. */
export type OptimizerSpec =
  | { kind: 'sgd'; lr: number; momentum?: number; weightDecay?: number }
  | { kind: 'adam'; lr: number; beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number };

/** Defaults in one place (spec §3.2 for SGD; PyTorch defaults for Adam). */
export const OPTIMIZER_DEFAULTS = {
  sgd: { momentum: 0.9, weightDecay: 0 },
  adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
} as const;

/** Common surface of our optimizers: learning rate control and named, ordered slot tensors. */
export interface InspectableOptimizer {
  /** The base learning rate of the spec, before the schedule multiplier. */
  readonly baseLr: number;
  /** Current learning rate (base x schedule multiplier). */
  learningRate: number;
  /** Steps applied so far (Adam's bias correction uses it). */
  readonly stepCount: number;
  /** Every slot tensor keyed `<variable index>/<slot>`, index = position in the group's variable list. */
  slots(): Map<string, tf.Variable>;
  /** Restore the step counter (slots are restored by assigning into `slots()`). */
  restoreStepCount(n: number): void;
}

abstract class SlotOptimizer extends tf.Optimizer implements InspectableOptimizer {
  learningRate: number;
  protected steps = 0;
  protected readonly byName = new Map<string, number>();

  constructor(readonly variables: readonly tf.Variable[], readonly baseLr: number) {
    super();
    this.learningRate = baseLr;
    variables.forEach((v, i) => {
      if (this.byName.has(v.name)) throw new Error(`optimizer: variable '${v.name}' listed twice`);
      this.byName.set(v.name, i);
    });
  }

  get stepCount(): number {
    return this.steps;
  }

  restoreStepCount(n: number): void {
    this.steps = n;
  }

  abstract slots(): Map<string, tf.Variable>;

  /** Index of each gradient's variable; unknown names are a programming error in a recipe. */
  protected indexGrads(variableGradients: GradientsArg): Array<[number, tf.Tensor]> {
    const entries: Array<[string, tf.Tensor]> = Array.isArray(variableGradients)
      ? variableGradients.map((t) => [t.name, t.tensor] as [string, tf.Tensor])
      : Object.entries(variableGradients);
    const out: Array<[number, tf.Tensor]> = [];
    for (const [name, g] of entries) {
      if (g == null) continue; // variableGrads reports null for variables the loss does not reach
      const i = this.byName.get(name);
      if (i === undefined) throw new Error(`optimizer: gradient for '${name}', which is not in this optimizer's variable group`);
      out.push([i, g]);
    }
    return out;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate };
  }

  override dispose(): void {
    for (const v of this.slots().values()) v.dispose();
  }
}

/** SGD with momentum and weight decay, PyTorch semantics, with inspectable slots for checkpoints. */
export class SgdMomentum extends SlotOptimizer {
  static get className(): string {
    return 'JatpSgdMomentum';
  }
  readonly momentum: number;
  readonly weightDecay: number;
  private readonly velocity: tf.Variable[];

  constructor(variables: readonly tf.Variable[], opts: { lr: number; momentum?: number; weightDecay?: number }) {
    super(variables, opts.lr);
    this.momentum = opts.momentum ?? OPTIMIZER_DEFAULTS.sgd.momentum;
    this.weightDecay = opts.weightDecay ?? OPTIMIZER_DEFAULTS.sgd.weightDecay;
    this.velocity = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  }

  slots(): Map<string, tf.Variable> {
    return new Map(this.velocity.map((v, i) => [`${i}/momentum`, v]));
  }

  applyGradients(variableGradients: GradientsArg): void {
    const lr = this.learningRate;
    for (const [i, grad] of this.indexGrads(variableGradients)) {
      const p = this.variables[i]!;
      const v = this.velocity[i]!;
      tf.tidy(() => {
        const g = this.weightDecay !== 0 ? tf.add(grad, tf.mul(p, this.weightDecay)) : grad;
        const vNew = tf.add(tf.mul(v, this.momentum), g);
        v.assign(vNew);
        p.assign(tf.sub(p, tf.mul(vNew, lr)));
      });
    }
    this.steps++;
    this.incrementIterations();
  }
}

/** Adam (optionally with weight decay), PyTorch semantics, with inspectable slots for checkpoints. */
export class Adam extends SlotOptimizer {
  static get className(): string {
    return 'JatpAdam';
  }
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(
    variables: readonly tf.Variable[],
    opts: { lr: number; beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number },
  ) {
    super(variables, opts.lr);
    this.beta1 = opts.beta1 ?? OPTIMIZER_DEFAULTS.adam.beta1;
    this.beta2 = opts.beta2 ?? OPTIMIZER_DEFAULTS.adam.beta2;
    this.epsilon = opts.epsilon ?? OPTIMIZER_DEFAULTS.adam.epsilon;
    this.weightDecay = opts.weightDecay ?? OPTIMIZER_DEFAULTS.adam.weightDecay;
    this.m = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
    this.v = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
  }

  slots(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    this.m.forEach((t, i) => out.set(`${i}/m`, t));
    this.v.forEach((t, i) => out.set(`${i}/v`, t));
    return out;
  }

  applyGradients(variableGradients: GradientsArg): void {
    const t = this.steps + 1;
    // Bias corrections in float64 on the host, folded into one step size as PyTorch does.
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    const stepSize = this.learningRate / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    for (const [i, grad] of this.indexGrads(variableGradients)) {
      const p = this.variables[i]!;
      const m = this.m[i]!;
      const v = this.v[i]!;
      tf.tidy(() => {
        const g = this.weightDecay !== 0 ? tf.add(grad, tf.mul(p, this.weightDecay)) : grad;
        const mNew = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const vNew = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        m.assign(mNew);
        v.assign(vNew);
        const denom = tf.add(tf.div(tf.sqrt(vNew), sqrtBc2), this.epsilon);
        p.assign(tf.sub(p, tf.mul(tf.div(mNew, denom), stepSize)));
      });
    }
    this.steps++;
    this.incrementIterations();
  }
}

/** Builds the optimizer a spec describes for one variable group. */
export function createOptimizer(spec: OptimizerSpec, variables: readonly tf.Variable[]): SgdMomentum | Adam {
  if (!(spec.lr > 0) || !Number.isFinite(spec.lr)) throw new Error(`optimizer: lr must be a positive number, got ${spec.lr}`);
  switch (spec.kind) {
    case 'sgd':
      return new SgdMomentum(variables, spec);
    case 'adam':
      return new Adam(variables, spec);
    default:
      throw new Error(`optimizer: unknown kind '${(spec as { kind: string }).kind}' (expected 'sgd' or 'adam')`);
  }
}
