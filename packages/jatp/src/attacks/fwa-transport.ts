import * as tf from '@tensorflow/tfjs-core';

/**
 * Local transport plans for the Wasserstein threat model of FWA (Wu, Wang, Yu, "Stronger and faster
 * Wasserstein adversarial examples via dual projection", ICML 2020; spec §5.4).
 *
 * Layout (NHWC, like the images): a plan `Pi` has shape [B, H, W, C, k*k]. Pi[b, h, w, c, o] is the
 * mass of channel c moved from pixel (h, w) to pixel (h + dh, w + dw), where the offset index is
 * o = (dh + r) * k + (dw + r), r = (k - 1) / 2, dh, dw in [-r, r]. Moving mass costs the Euclidean
 * length of the offset. Offsets that leave the image are not allowed (the reference marks them with a
 * huge cost); here they are masked so that their mass is exactly zero.
 * A plan is feasible for image x and budget eps_W when Pi >= 0, sum_o Pi[b, i, c, o] = x[b, i, c] and
 * sum C * Pi <= eps_W * S_b with S_b the total mass of image b.
 */
export interface TransportGeometry {
  /** Image batch shape [B, H, W, C] the geometry was built for. */
  readonly shape: readonly [number, number, number, number];
  readonly kernel: number;
  /** Euclidean length of each offset, full plan shape [B, H, W, C, k*k] (0 where the offset leaves the image). */
  readonly cost: tf.Tensor;
  /** 1 where the offset stays inside the image, else 0, full plan shape. */
  readonly valid: tf.Tensor;
  /** 0 where allowed, -1e6 where forbidden, full plan shape (added before simplex projections). */
  readonly forbidden: tf.Tensor;
  /** 1 / j for j = 1..k*k on every plan row, [B*H*W*C, k*k] (for the simplex projection). */
  readonly rankInverse: tf.Tensor2D;
  /** One-hot depthwise filter [k, k, C, k*k]: output channel (c, o) reads input channel c at offset o. */
  readonly gatherFilter: tf.Tensor4D;
  /** One-hot depthwise filter [k, k, C*k*k, 1]: channel (c, o) reads itself at offset -o. */
  readonly shiftFilter: tf.Tensor4D;
  /** Offsets (dh, dw) in index order. */
  readonly offsets: ReadonlyArray<readonly [number, number]>;
  dispose(): void;
}

/**
 * Constant tensors of the transport geometry for a batch shape. They are built at the full plan
 * shape once per attack so that the per-step element-wise ops need no broadcasting (which is slow on
 * the cpu backend).
 */
export function transportGeometry(shape: readonly [number, number, number, number], kernel: number): TransportGeometry {
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) {
    throw new Error(`fwa: kernel must be an odd integer >= 1 (a window centred on each pixel), got ${kernel}`);
  }
  const [batch, height, width, channels] = shape;
  const r = (kernel - 1) / 2;
  const k2 = kernel * kernel;
  const offsets: Array<[number, number]> = [];
  for (let dh = -r; dh <= r; dh++) for (let dw = -r; dw <= r; dw++) offsets.push([dh, dw]);
  const cost = new Float32Array(height * width * k2);
  const valid = new Float32Array(height * width * k2);
  for (let h = 0; h < height; h++) {
    for (let w = 0; w < width; w++) {
      offsets.forEach(([dh, dw], o) => {
        const inside = h + dh >= 0 && h + dh < height && w + dw >= 0 && w + dw < width;
        const at = (h * width + w) * k2 + o;
        valid[at] = inside ? 1 : 0;
        cost[at] = inside ? Math.hypot(dh, dw) : 0;
      });
    }
  }
  const filter = new Float32Array(kernel * kernel * channels * k2);
  for (let o = 0; o < k2; o++) for (let c = 0; c < channels; c++) filter[(o * channels + c) * k2 + o] = 1;
  // Tap t = (kh, kw) reads offset (kh - r, kw - r); offset -o has tap index k2 - 1 - o.
  const shift = new Float32Array(kernel * kernel * channels * k2);
  for (let o = 0; o < k2; o++) for (let c = 0; c < channels; c++) shift[(k2 - 1 - o) * channels * k2 + c * k2 + o] = 1;
  const full = (values: Float32Array) =>
    tf.tidy(() => tf.tile(tf.reshape(tf.tensor(values, [1, height, width, 1, k2]), [1, height, width, 1, k2]), [batch, 1, 1, channels, 1]));
  const costT = full(cost);
  const validT = full(valid);
  const forbiddenT = tf.tidy(() => tf.mul(tf.sub(validT, 1), 1e6));
  const rankInverse = tf.tidy(() => tf.tile(tf.reshape(tf.div(1, tf.range(1, k2 + 1, 1, 'float32')), [1, k2]), [batch * height * width * channels, 1])) as tf.Tensor2D;
  const gatherFilter = tf.tensor4d(filter, [kernel, kernel, channels, k2]);
  const shiftFilter = tf.tensor4d(shift, [kernel, kernel, channels * k2, 1]);
  return {
    shape: [batch, height, width, channels],
    kernel,
    cost: costT,
    valid: validT,
    forbidden: forbiddenT,
    rankInverse,
    gatherFilter,
    shiftFilter,
    offsets,
    dispose: () => tf.dispose([costT, validT, forbiddenT, rankInverse, gatherFilter, shiftFilter]),
  };
}

/** The plan that moves nothing: all mass of x at offset (0, 0). */
export function identityPlan(x: tf.Tensor4D, geo: TransportGeometry): tf.Tensor {
  return tf.tidy(() => {
    const k2 = geo.kernel * geo.kernel;
    const centre = (k2 - 1) / 2;
    const selector = tf.oneHot(tf.tensor1d([centre], 'int32'), k2); // [1, k2]
    return tf.mul(tf.expandDims(x, 4), tf.reshape(selector, [1, 1, 1, 1, k2]));
  });
}

/**
 * A column [R, 1] repeated m times, [R, m], as an outer product with ones: matMul is fast on every
 * backend, whereas broadcasting element-wise ops take a slow generic path on the cpu backend.
 */
function repeatColumns(column: tf.Tensor2D, m: number): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(column, tf.ones([1, m])));
}

/** scale[b] * t[b, ...] for a plan-shaped t [B, H, W, C, K] (no broadcasting, see repeatColumns). */
export function scalePerExample(scale: tf.Tensor1D, t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, h, w, c, k] = t.shape as [number, number, number, number, number];
    const perPixel = repeatColumns(tf.reshape(scale, [b, 1]), h * w);
    const full = repeatColumns(tf.reshape(perPixel, [b * h * w, 1]), c * k);
    return tf.mul(tf.reshape(full, t.shape), t);
  });
}

/** x[b, h, w, c] repeated along a new last axis of length k, [B, H, W, C, K]. */
function repeatMass(x: tf.Tensor4D, k: number): tf.Tensor {
  return tf.tidy(() => tf.reshape(repeatColumns(tf.reshape(x, [x.size, 1]), k), [...x.shape, k]));
}

/**
 * Adjoint of {@link pushForward}: the gradient with respect to the plan of a function of x'(Pi), given
 * its gradient g with respect to x': G[b, i, c, o] = g[b, i + o, c] (0 outside the image). A depthwise
 * convolution with a one-hot filter reads exactly these shifted values ('same' zero padding).
 */
export function pullBack(g: tf.Tensor4D, geo: TransportGeometry): tf.Tensor {
  return tf.tidy(() => {
    const [b, h, w, c] = g.shape;
    const k2 = geo.kernel * geo.kernel;
    const gathered = tf.depthwiseConv2d(g, geo.gatherFilter, 1, 'same'); // channel index c * k2 + o
    return tf.reshape(gathered, [b, h, w, c, k2]);
  });
}

/**
 * Image made of the mass arriving at each pixel: x'[b, j, c] = sum_o Pi[b, j - o, c, o]. Each plan
 * channel (c, o) is shifted by its offset with a depthwise convolution whose one-hot filter reads
 * position j - o ('same' zero padding), then the offsets are summed.
 */
export function pushForward(plan: tf.Tensor, geo: TransportGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c, k2] = plan.shape as [number, number, number, number, number];
    const shifted = tf.depthwiseConv2d(tf.reshape(plan, [b, h, w, c * k2]) as tf.Tensor4D, geo.shiftFilter, 1, 'same');
    return tf.sum(tf.reshape(shifted, [b, h, w, c, k2]), 4) as tf.Tensor4D;
  });
}

/** Transport cost per example, sum C * Pi, [B]. */
export function transportCost(plan: tf.Tensor, geo: TransportGeometry): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.reshape(tf.mul(plan, geo.cost), [plan.shape[0]!, -1]), 1) as tf.Tensor1D);
}

/**
 * Euclidean projection of each row of v (last axis, length m) onto the scaled simplex
 * {p >= 0, sum p = s} (sort-based: Held et al. 1974; Duchi et al. 2008; Condat 2016). Rows with
 * s = 0 become 0.
 * v: [..., m]; s: v's shape without the last axis.
 */
export function projectSimplex(v: tf.Tensor, s: tf.Tensor, rankInverse?: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const m = v.shape[v.rank - 1]!;
    const rows = v.size / m;
    const v2 = tf.reshape(v, [rows, m]);
    const s2 = tf.reshape(s, [rows, 1]);
    const { values: u } = tf.topk(v2, m, true); // descending
    const cs = tf.sub(tf.cumsum(u, 1), repeatColumns(s2 as tf.Tensor2D, m));
    // The threshold is max_j (sum_{r<=j} u_r - s) / j: the maximum is reached at the last j with
    // u_j > (sum_{r<=j} u_r - s) / j (Condat 2016), which avoids locating that j explicitly.
    const ratio = rankInverse ? tf.mul(cs, rankInverse) : tf.div(cs, tf.range(1, m + 1, 1, 'float32'));
    const theta = tf.max(ratio, 1, true); // [rows, 1]
    return tf.reshape(tf.relu(tf.sub(v2, repeatColumns(theta as tf.Tensor2D, m))), v.shape);
  });
}

export interface BisectionOptions {
  /** Maximum bisection steps on the dual variable. */
  readonly maxIter: number;
  /** Stop when every |cost - budget| is below this (relative to the budget) ... */
  readonly tolerance: number;
}

/**
 * Finds, per example, the smallest lam >= 0 with cost(planAt(lam)) <= budget by bisection, assuming
 * the cost is non-increasing in lam, and returns planAt(lam). `hi` must be feasible. The returned
 * plan always satisfies the budget (we keep the feasible end of the bracket).
 */
export function bisectDual(
  planAt: (lam: tf.Tensor1D) => tf.Tensor,
  geo: TransportGeometry,
  budget: tf.Tensor1D,
  hiStart: tf.Tensor1D,
  o: BisectionOptions,
): tf.Tensor {
  const batch = budget.shape[0];
  // Budget already met without a penalty: lam = 0.
  const zeroOk = tf.tidy(() => {
    const p0 = planAt(tf.zeros([batch]));
    return tf.lessEqual(transportCost(p0, geo), budget);
  });
  let lo: tf.Tensor1D = tf.zeros([batch]);
  let hi: tf.Tensor1D = tf.clone(hiStart);
  for (let it = 0; it < o.maxIter; it++) {
    const step = tf.tidy(() => {
      const mid = tf.div(tf.add(lo, hi), 2) as tf.Tensor1D;
      const gap = tf.sub(transportCost(planAt(mid), geo), budget);
      const over = tf.greater(gap, 0);
      const newLo = tf.where(over, mid, lo) as tf.Tensor1D;
      const newHi = tf.where(over, hi, mid) as tf.Tensor1D;
      // Converged when the bracket is tight or the budget is met almost exactly.
      const width = tf.max(tf.sub(newHi, newLo));
      const slack = tf.max(tf.where(zeroOk, tf.zerosLike(gap), tf.div(tf.abs(gap), tf.add(budget, 1e-12))));
      return { newLo, newHi, done: tf.logicalOr(tf.less(width, o.tolerance), tf.less(slack, o.tolerance)) };
    });
    tf.dispose([lo, hi]);
    lo = step.newLo;
    hi = step.newHi;
    const done = step.done.dataSync()[0] !== 0;
    step.done.dispose();
    if (done) break;
  }
  const plan = tf.tidy(() => planAt(tf.where(zeroOk, tf.zerosLike(hi), hi) as tf.Tensor1D));
  tf.dispose([lo, hi, zeroOk]);
  return plan;
}

/**
 * Euclidean projection of z onto the feasible plans of x (spec §5.4 "DualProject"): by the KKT
 * conditions the solution is Pi(lam) = rowwise simplex projection of (z - lam * C) onto mass x, with
 * the budget multiplier lam >= 0 found by bisection.
 */
export function dualProject(
  z: tf.Tensor,
  x: tf.Tensor4D,
  geo: TransportGeometry,
  budget: tf.Tensor1D,
  o: BisectionOptions,
): tf.Tensor {
  const batch = x.shape[0];
  const planAt = (lam: tf.Tensor1D) =>
    tf.tidy(() => {
      // Forbidden offsets get a value far below any allowed one, so they never receive mass.
      const v = tf.add(tf.mul(tf.sub(z, scalePerExample(lam, geo.cost)), geo.valid), geo.forbidden);
      return tf.mul(projectSimplex(v, x, geo.rankInverse), geo.valid);
    });
  // At lam = 2 max|z| + max x every non-zero offset is at least max x below offset 0 (its cost is >= 1),
  // so all mass stays in place and the cost is 0: a feasible upper end.
  const hi = tf.tidy(() => {
    const flatZ = tf.reshape(z, [batch, -1]);
    const flatX = tf.reshape(x, [batch, -1]);
    return tf.add(tf.add(tf.mul(tf.max(tf.abs(flatZ), 1), 2), tf.max(flatX, 1)), 1e-6) as tf.Tensor1D;
  });
  const plan = bisectDual(planAt, geo, budget, hi, o);
  hi.dispose();
  return plan;
}

/**
 * Entropy-smoothed linear minimisation oracle of the Frank-Wolfe variant (spec §5.4): the plan
 * maximising <G, Pi> - gamma * entropy term under the marginal and budget constraints,
 * Pi(lam)[i, :] = x_i * softmax_o((G[i, o] - lam * C[i, o]) / gamma), lam >= 0 by bisection.
 */
export function entropicLmo(
  g: tf.Tensor,
  x: tf.Tensor4D,
  geo: TransportGeometry,
  budget: tf.Tensor1D,
  gamma: number,
  o: BisectionOptions,
): tf.Tensor {
  const batch = x.shape[0];
  const mass = repeatMass(x, geo.kernel * geo.kernel);
  const planAt = (lam: tf.Tensor1D) =>
    tf.tidy(() => {
      // Forbidden offsets sit 1e6 / gamma below every allowed logit: exp underflows to exactly 0.
      const logits = tf.add(tf.mul(tf.div(tf.sub(g, scalePerExample(lam, geo.cost)), gamma), geo.valid), tf.div(geo.forbidden, gamma));
      return tf.mul(tf.mul(tf.softmax(logits), mass), geo.valid);
    });
  // Upper end: double a starting guess until the budget holds (the cost decreases to 0 as lam grows).
  let hi = tf.tidy(() => tf.add(tf.mul(tf.max(tf.abs(tf.reshape(g, [batch, -1])), 1), 2), gamma) as tf.Tensor1D);
  for (let it = 0; it < 60; it++) {
    const ok = tf.tidy(() => tf.all(tf.lessEqual(transportCost(planAt(hi), geo), budget)));
    const done = ok.dataSync()[0] !== 0;
    ok.dispose();
    if (done) break;
    const doubled = tf.mul(hi, 2) as tf.Tensor1D;
    hi.dispose();
    hi = doubled;
  }
  const plan = bisectDual(planAt, geo, budget, hi, o);
  tf.dispose([hi, mass]);
  return plan;
}
