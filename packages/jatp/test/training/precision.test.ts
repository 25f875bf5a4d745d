/**
 * withTrainingPrecision (the --precision flag of train-target / train-defense): bad values and a
 * backend without the engine fail with errors naming the flag; on torch the precision holds
 * inside the run and strict fp32 is restored after it, also when the run throws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { withTrainingPrecision } from '../../src/backend.js';

const torch = (await import('tfjs-backend-torch')) as {
  torchStatus(): { available: boolean; reason?: string }; getPrecision(): string;
};
const skip = torch.torchStatus().available ? undefined : `torch backend unavailable: ${torch.torchStatus().reason}`;

test('--precision: unknown values and the cpu backend are rejected, naming the flag', async () => {
  await tf.setBackend('cpu');
  await assert.rejects(withTrainingPrecision('fp16', '--precision', async () => 1), /--precision: 'fp16' is not one of fp32, tf32, bf16/);
  await assert.rejects(withTrainingPrecision('bf16', '--precision', async () => 1), /--precision bf16: needs the torch engine/);
  assert.equal(await withTrainingPrecision(undefined, '--precision', async () => 7), 7);
});

test('--precision bf16 holds during the run and fp32 is restored after, even on failure', { skip }, async () => {
  await tf.setBackend('torch');
  const seen = await withTrainingPrecision('bf16', '--precision', async () => torch.getPrecision());
  assert.equal(seen, 'bf16');
  assert.equal(torch.getPrecision(), 'fp32');
  await assert.rejects(withTrainingPrecision('bf16', '--precision', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(torch.getPrecision(), 'fp32');
  await tf.setBackend('cpu');
});
