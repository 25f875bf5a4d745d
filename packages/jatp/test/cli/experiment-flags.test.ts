/** `jatp experiment` checks its numeric flags with the shared parsers: a bad value names its flag. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveExperimentFlags } from '../../src/cli/experiment.js';

const base = { scale: 'smoke', dataset: 'fashion-mnist', seeds: '1' };

test('experiment flags: --seeds and --n must be integers >= 1, named in the error', () => {
  for (const [flags, flag] of [
    [{ ...base, seeds: '0' }, '--seeds'],
    [{ ...base, seeds: 'two' }, '--seeds'],
    [{ ...base, n: '1.5' }, '--n'],
    [{ ...base, n: '-3' }, '--n'],
  ] as const) {
    assert.throws(() => resolveExperimentFlags(flags), (e: Error) => e.message.startsWith(`${flag}:`), JSON.stringify(flags));
  }
});

test('experiment flags: good values resolve, with the default output folder', () => {
  const r = resolveExperimentFlags({ ...base, seeds: '3', n: '20' });
  assert.equal(r.seeds, 3);
  assert.equal(r.evalCount, 20);
  assert.equal(r.out, 'runs/exp-smoke-fashion-mnist');
});

test('experiment flags: --attacks takes known columns only; --scale evidence resolves', () => {
  assert.deepEqual(resolveExperimentFlags({ ...base, attacks: 'PGD, OBL' }).attacks, ['PGD', 'OBL']);
  assert.equal(resolveExperimentFlags({ ...base }).attacks, undefined);
  assert.throws(() => resolveExperimentFlags({ ...base, attacks: 'PGD,Square' }), /^Error: --attacks: 'Square' is not one of PGD, DLR, AA, FWA, TI-BIM, BPDA, OBL/);
  assert.throws(() => resolveExperimentFlags({ ...base, attacks: ',' }), /--attacks: name at least one/);
  assert.equal(resolveExperimentFlags({ ...base, scale: 'evidence' }).scale, 'evidence');
});

test('experiment flags: --cells splits on commas; an empty pattern is an error naming the flag', () => {
  assert.deepEqual(resolveExperimentFlags({ ...base, cells: 'eval-*-nrp-*, eval-pgd-none-*' }).cells, ['eval-*-nrp-*', 'eval-pgd-none-*']);
  assert.equal(resolveExperimentFlags(base).cells, undefined);
  for (const cells of ['', 'a,,b', 'a,']) assert.throws(() => resolveExperimentFlags({ ...base, cells }), /^Error: --cells: expected comma-separated key patterns/, cells);
});
