/**
 * The binding contract between the addon and the kernels: every function the addon exports has a camelCase name, the
 * op codes the kernels use come from the addon's `opCodes` (native/op_codes.h) and none is
 * missing, and a native error carries the guard's "torch: " prefix (the guard in TT_FN).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { nativeBinding } from '../src/index.js';
import { ACTIVATION, BINARY, REDUCE, UNARY, opCodeMismatches } from '../src/kernels/core/ops.js';
import { skipReason } from './nn_helpers.js';

const skip = skipReason();

test('every native export is camelCase', { skip }, () => {
  const names = Object.keys(nativeBinding()!);
  assert.ok(names.length > 50, `only ${names.length} exports`);
  const bad = names.filter((n) => !/^[a-z][A-Za-z0-9]*$/.test(n));
  assert.deepEqual(bad, [], `not camelCase: ${bad.join(', ')}`);
});

test('op codes come from the addon, each family without gaps or duplicates', { skip }, () => {
  assert.deepEqual(opCodeMismatches(), []);
  const codes = nativeBinding()!.opCodes;
  for (const [family, ts] of [['unary', UNARY], ['binary', BINARY], ['reduce', REDUCE], ['activation', ACTIVATION]] as const) {
    assert.deepEqual({ ...ts }, codes[family], `${family}: TypeScript names and native codes differ`);
    const values = Object.values(codes[family]).sort((a, b) => a - b);
    assert.deepEqual(values, values.map((_, i) => i), `${family}: codes are not 0..n-1`);
  }
  // Comparisons must follow Equal: both sides give them a bool result by `op >= Equal`.
  assert.ok(BINARY.Equal > BINARY.Prelu && BINARY.LogicalXor > BINARY.Equal);
});

test('native errors pass through the guard as JS errors', { skip }, () => {
  const b = nativeBinding()!;
  assert.throws(() => b.nnLinfStep(987654, 987654, 987654, 0.1, 0.1, 0, 1), /^Error: torch: /);
  assert.throws(() => b.setPrecision(7), /torch: setPrecision: unknown precision code 7/);
});
