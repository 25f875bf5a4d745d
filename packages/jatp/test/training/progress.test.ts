/**
 * The progress sink: plain lines (non-TTY) carry epoch, steps, images/s, metrics and ETA, a tenth
 * of an epoch apart; the TTY form redraws one line with a bar and ends it at the epoch's end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stderrProgress, type StepProgress } from '../../src/training/progress.js';

function capture(f: () => void): string {
  const original = process.stderr.write.bind(process.stderr);
  let out = '';
  (process.stderr as { write: unknown }).write = (chunk: string | Uint8Array): boolean => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  };
  try {
    f();
  } finally {
    (process.stderr as { write: unknown }).write = original;
  }
  return out;
}

const step = (s: number): StepProgress => ({ epoch: 2, epochs: 5, step: s, stepsPerEpoch: 20, imagesPerSecond: 12.5, metrics: { loss: 0.75 }, etaSeconds: 125 });

test('plain lines every tenth of an epoch with steps, images/s, loss and ETA', () => {
  const out = capture(() => {
    const sink = stderrProgress({ tty: false, lineSeconds: 1e9 });
    for (let s = 1; s <= 20; s++) sink.step(step(s));
    sink.epochEnd(2, 5, { loss: 0.5, pgdAcc: 40 }, 61);
  });
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 11, out); // steps 2,4,...,20 and the epoch summary
  assert.equal(lines[0], 'epoch 2/5 step 2/20  12.5 img/s  loss 0.7500  ETA 02:05');
  assert.match(lines[10]!, /^epoch 2\/5 done in 01:01 {2}loss 0\.5000 {2}pgdAcc 40\.0000$/);
});

test('TTY form redraws a bar in place and closes the line at the epoch end', () => {
  const out = capture(() => {
    const sink = stderrProgress({ tty: true });
    sink.step(step(10));
    sink.epochEnd(2, 5, { loss: 0.5 }, 5);
  });
  assert.ok(out.startsWith('\repoch 2/5 [############............] 10/20'), JSON.stringify(out));
  assert.match(out, /ETA 02:05\x1b\[K\nepoch 2\/5 done/);
});
