/**
 * What the bench port tests share: whether /usr/bin/python3 has PyTorch, and the PyTorch side's probe
 * (logits, P(x), T(x)) of the files a bench wrote, from bench/attacks_reference.py.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PY = '/usr/bin/python3';
export const hasTorch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
export const noTorch = `${PY} cannot import torch (install python3-torch to run this cross-check)`;
export const REFERENCE_SCRIPT = fileURLToPath(new URL('../../bench/attacks_reference.py', import.meta.url));

/** PyTorch's outputs on the model and images the bench wrote to `dir` (fails under CI=true without torch). */
export function probeReference(dir: string): Record<string, number[]> {
  assert.ok(hasTorch, `CI=true, but ${noTorch}`);
  const r = spawnSync(PY, [REFERENCE_SCRIPT, '--data', dir, '--attack', 'probe', '--threads', '1'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number[]>;
}

export const maxAbsDiff = (a: Float32Array, b: number[]): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
