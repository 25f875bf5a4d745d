import * as tf from '@tensorflow/tfjs-core';
import { fusedOpsAvailable, linfBoxProjection } from 'tfjs-backend-torch/fused';

/**
 * Box-constrained L-inf projection onto a hyperplane, the inner step of FAB (Croce & Hein, "Minimally
 * distorted adversarial examples with a fast adaptive boundary attack", ICML 2020; spec §5.3).
 *
 * For every row r solves   min ||d||_inf  s.t.  <w_r, x_r + d> = b_r,  0 <= x_r + d <= 1.
 *
 * Let c = b - <w, x> be the change of <w, .> that is needed. Each coordinate helps by moving in the
 * direction dir_i = sign(c * w_i), and can move at most room_i (1 - x_i upwards, x_i downwards). At
 * L-inf level lam the best reachable change is g(lam) = sum_i |w_i| * min(lam, room_i), piecewise
 * linear and non-decreasing, so the minimiser is d_i = dir_i * min(lam*, room_i) with g(lam*) = |c|.
 * We find lam* exactly: sort the rooms ascending, evaluate g at every breakpoint with cumulative
 * sums, locate the linear piece that crosses |c| and solve on it. If |c| exceeds g(max room) the
 * hyperplane cannot be reached inside the box and every coordinate goes to its box limit (the point of
 * the box closest to the hyperplane in that sense), as in the reference code.
 *
 * On the `torch` engine the same solution comes from one native call that finds the crossing piece
 * by weighted selection instead of a sort (the sort was most of FAB's time on small models); it
 * agrees with the composition below up to the float32 rounding of the cumulative sums.
 *
 * Shapes: x, w [B, D] with x in [0, 1]; b [B]. Returns d [B, D].
 */
export function projectLinfBox(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  if (nativeProjection && fusedOpsAvailable()) return linfBoxProjection(x, w, b);
  return projectLinfBoxComposed(x, w, b);
}

let nativeProjection = true;

/**
 * Whether projectLinfBox may use the engine's native kernel (default true). For before/after
 * measurements in one process (bench/attacks-profile.ts --projection composed); results agree either way
 * up to float32 rounding.
 */
export function setNativeProjection(enabled: boolean): void {
  nativeProjection = enabled;
}

/** The projection from tfjs ops (any backend): sort the rooms, cumulative sums, solve on the crossing piece. */
export function projectLinfBoxComposed(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const [rows, dim] = x.shape;
    const c = tf.sub(b, tf.sum(tf.mul(w, x), 1)); // [B]
    const absC = tf.abs(c);
    const dir = tf.sign(tf.mul(tf.reshape(c, [rows, 1]), w)); // [B, D] in {-1, 0, 1}
    const room = tf.where(tf.greater(dir, 0), tf.sub(1, x), x); // how far each coordinate may go
    const absW = tf.abs(w);

    // Rooms in ascending order with their weights.
    const { values: negSorted, indices } = tf.topk(tf.neg(room), dim, true);
    const roomSorted = tf.neg(negSorted);
    const wSorted = tf.gather(absW, indices, 1, 1);
    const wTotal = tf.sum(absW, 1, true); // [B, 1]
    const cumWR = tf.cumsum(tf.mul(wSorted, roomSorted), 1); // sum_{i<=j} |w_i| room_i
    const cumW = tf.cumsum(wSorted, 1); // sum_{i<=j} |w_i|
    // g at the j-th breakpoint lam = room_(j).
    const gAtBreak = tf.add(cumWR, tf.mul(roomSorted, tf.sub(wTotal, cumW)));
    // k = number of breakpoints below the target: the crossing lies on the piece [room_(k-1), room_(k)].
    const k = tf.sum(tf.cast(tf.less(gAtBreak, tf.reshape(absC, [rows, 1])), 'int32'), 1); // [B]
    const reachable = tf.less(k, dim);
    // Sums over the saturated coordinates (the first k in sorted order); zero when k = 0.
    const prev = tf.maximum(tf.sub(k, tf.scalar(1, 'int32')), tf.scalar(0, 'int32'));
    const pick = (t: tf.Tensor) =>
      tf.where(tf.greater(k, 0), tf.reshape(tf.gather(t, tf.reshape(prev, [rows, 1]), 1, 1), [rows]), tf.zeros([rows]));
    const satWR = pick(cumWR);
    const satW = pick(cumW);
    const freeW = tf.maximum(tf.sub(tf.reshape(wTotal, [rows]), satW), 1e-12);
    const lam = tf.div(tf.sub(absC, satWR), freeW); // [B]
    // Unreachable: lam = +inf in effect, i.e. every coordinate at its box limit.
    const lamEff = tf.where(reachable, lam, tf.fill([rows], 2));
    const d = tf.mul(dir, tf.minimum(tf.reshape(lamEff, [rows, 1]), room));
    return d as tf.Tensor2D;
  });
}
