// FAB's box-constrained L-inf projection at the size FAB runs it (rows of 784 pixels, many of them
// exactly 0 or 1 as on Fashion-MNIST, so many tied rooms): the native selection kernel on torch and
// the tfjs composition (sort + cumulative sums) on cpu and torch, each against an exact float64
// solution, plus the defining properties (inside the box, on the hyperplane when it is reachable).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { projectLinfBox, projectLinfBoxComposed } from '../../src/attacks/fab-projection.js';
import { useTorchBackend } from '../torch-backend.js';

interface Problem { rows: number; dim: number; x: Float32Array; w: Float32Array; b: Float32Array }

/** Rows of FAB-like data: 40 % zeros and 10 % ones in x, 10 % zero weights, some hyperplanes out of reach, one already met. */
function problem(rows: number, dim: number, seed: number): Problem {
  let s = seed;
  const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const x = new Float32Array(rows * dim);
  const w = new Float32Array(rows * dim);
  const b = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let wx = 0;
    for (let i = 0; i < dim; i++) {
      const u = rand();
      x[r * dim + i] = u < 0.4 ? 0 : u < 0.5 ? 1 : rand();
      w[r * dim + i] = rand() < 0.1 ? 0 : Math.fround((2 * rand() - 1) * 0.05);
      wx += x[r * dim + i]! * w[r * dim + i]!;
    }
    // Mostly a reachable target a few units away; every 7th row far out of reach; row 0 already on it.
    const shift = r === 0 ? 0 : r % 7 === 3 ? 1e3 : (rand() - 0.5) * 4;
    b[r] = Math.fround(wx + shift);
  }
  return { rows, dim, x, w, b };
}

/** Exact solution in float64: sort the rooms, walk the breakpoints, solve on the crossing piece. */
function exact(p: Problem, r: number): { d: Float64Array; reachable: boolean } {
  const { dim } = p;
  let c = p.b[r]!;
  for (let i = 0; i < dim; i++) c -= p.w[r * dim + i]! * p.x[r * dim + i]!;
  const dir = new Float64Array(dim);
  const room = new Float64Array(dim);
  for (let i = 0; i < dim; i++) {
    dir[i] = Math.sign(c * p.w[r * dim + i]!);
    room[i] = dir[i]! > 0 ? 1 - p.x[r * dim + i]! : p.x[r * dim + i]!;
  }
  const order = Array.from({ length: dim }, (_, i) => i).sort((a, b) => room[a]! - room[b]!);
  const total = order.reduce((acc, i) => acc + Math.abs(p.w[r * dim + i]!), 0);
  let satWR = 0;
  let satW = 0;
  let lam = Infinity;
  for (const i of order) {
    const a = Math.abs(p.w[r * dim + i]!);
    const g = satWR + room[i]! * (total - satW); // g at this breakpoint
    if (g >= Math.abs(c)) {
      lam = (Math.abs(c) - satWR) / Math.max(total - satW, 1e-12);
      break;
    }
    satWR += a * room[i]!;
    satW += a;
  }
  return { d: Float64Array.from(dir, (s, i) => s * Math.min(lam, room[i]!)), reachable: lam !== Infinity };
}

function check(label: string, p: Problem, project: typeof projectLinfBox, tol: number): void {
  const before = tf.memory().numTensors;
  const [x, w, b] = [tf.tensor2d(p.x, [p.rows, p.dim]), tf.tensor2d(p.w, [p.rows, p.dim]), tf.tensor1d(p.b)];
  const d = project(x, w, b);
  const got = d.dataSync();
  tf.dispose([x, w, b, d]);
  assert.equal(tf.memory().numTensors, before, `${label}: leaked tensors`);
  let worst = 0;
  for (let r = 0; r < p.rows; r++) {
    const { d: ref, reachable } = exact(p, r);
    let dot = 0;
    let wx = 0;
    for (let i = 0; i < p.dim; i++) {
      const k = r * p.dim + i;
      worst = Math.max(worst, Math.abs(got[k]! - ref[i]!));
      const moved = p.x[k]! + got[k]!;
      assert.ok(moved >= -1e-6 && moved <= 1 + 1e-6, `${label}: row ${r} leaves the box at ${i}`);
      dot += p.w[k]! * moved;
      wx += p.w[k]! * p.x[k]!;
    }
    if (r % 7 === 3) assert.ok(!reachable, 'the far rows are out of reach');
    if (reachable) assert.ok(Math.abs(dot - p.b[r]!) < 1e-4 * (1 + Math.abs(p.b[r]! - wx)), `${label}: row ${r} misses the hyperplane (${dot} vs ${p.b[r]})`);
  }
  assert.ok(worst <= tol, `${label}: max |d - exact| = ${worst} > ${tol}`);
}

test('linf box projection: the tfjs composition on cpu against the exact float64 solution', async () => {
  await tf.setBackend('cpu');
  check('cpu composition', problem(48, 784, 11), projectLinfBox, 1e-6);
  check('cpu composition, short rows', problem(30, 5, 5), projectLinfBox, 1e-5);
});

test('linf box projection: the native selection kernel on torch against the exact solution and the composition', async (t) => {
  if (!(await useTorchBackend())) {
    t.skip('the torch engine is not built (npm run build:native)');
    return;
  }
  try {
    for (const [rows, dim, seed] of [[48, 784, 11], [300, 784, 12], [20, 3072, 13], [30, 5, 5], [7, 1, 9]] as const) {
      const p = problem(rows, dim, seed);
      check(`torch native ${rows}x${dim}`, p, projectLinfBox, 2e-7);
      check(`torch composition ${rows}x${dim}`, p, projectLinfBoxComposed, 1e-6);
    }
  } finally {
    await tf.setBackend('cpu');
  }
});
