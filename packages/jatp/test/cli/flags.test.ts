import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultEps, describeRule, parseChoice, parseEps, parseFraction, parseInteger, parseList, parseMilestones, parseNumber } from '../../src/cli/flags.js';

test('parseNumber: decimal numbers within the rule; anything else names the flag and what it takes', () => {
  assert.equal(parseNumber('--lr', '0.1', { above: 0 }), 0.1);
  assert.equal(parseNumber('--weight-decay', ' 5e-4 ', { min: 0 }), 5e-4);
  assert.equal(parseNumber('--epochs', '30', { integer: true, min: 1 }), 30);
  assert.throws(() => parseNumber('--epochs', '0', { integer: true, min: 1 }), { message: "--epochs: '0' is not an integer >= 1" });
  assert.throws(() => parseNumber('--epochs', '2.5', { integer: true, min: 1 }), /--epochs: '2.5' is not an integer >= 1/);
  assert.throws(() => parseNumber('--lr', '0', { above: 0 }), { message: "--lr: '0' is not a number > 0" });
  assert.throws(() => parseNumber('--lr', 'fast', { above: 0 }), /--lr: 'fast' is not a number > 0/);
  // What Number() would wrongly accept: '' (0), hex, Infinity.
  for (const bad of ['', '  ', '0x10', 'Infinity', '1e999', '1,5']) assert.throws(() => parseNumber('--x', bad), /--x: '.*' is not a number/, bad);
  assert.throws(() => parseNumber('--frac', '1.5', { min: 0, max: 1 }), { message: "--frac: '1.5' is not a number in [0, 1]" });
  assert.throws(() => parseInteger('--seed', '-1'), { message: "--seed: '-1' is not an integer >= 0" });
  assert.equal(parseInteger('--seed', '7'), 7);
  assert.equal(describeRule({ above: 0, max: 1 }), 'a number in (0, 1]');
});

test('parseFraction and parseEps: 8/255 and 0.03 accepted; 8/0, -1 and abc refused naming the flag', () => {
  assert.equal(parseFraction('--step-size', '2/255', { above: 0 }), 2 / 255);
  assert.equal(parseEps('--eps', '8/255'), 8 / 255);
  assert.equal(parseEps('--eps', '0.03'), 0.03);
  assert.equal(parseEps('--eps', ' 16 / 255 '), 16 / 255);
  assert.equal(parseEps('--eps', '0'), 0);
  assert.throws(() => parseEps('--eps', '8/0'), { message: "--eps: '8/0' divides by zero; expected a number in [0, 1] such as 0.03 or 8/255" });
  assert.throws(() => parseEps('--eps', '-1'), { message: "--eps: '-1' is not a number in [0, 1]" });
  assert.throws(() => parseEps('--eps', 'abc'), { message: "--eps: 'abc' is not a number in [0, 1]" });
  assert.throws(() => parseEps('--eps', '8/abc'), /--eps: '8\/abc' is not a number in \[0, 1\] such as/);
  assert.throws(() => parseEps('--eps', '300/255'), /--eps: '300\/255' is not a number in \[0, 1\]/);
  assert.throws(() => parseEps('--eps', '0', { positive: true }), { message: "--eps: '0' is not a number in (0, 1]" });
  assert.equal(parseEps('--eps', '2', { max: 10 }), 2);
});

test('defaultEps: 8/255 on colour data, 0.1 on (Fashion-)MNIST', () => {
  assert.equal(defaultEps('cifar10'), 8 / 255);
  assert.equal(defaultEps('svhn'), 8 / 255);
  assert.equal(defaultEps('fashion-mnist'), 0.1);
  assert.equal(defaultEps('mnist'), 0.1);
});

test('parseList and parseChoice', () => {
  assert.deepEqual(parseList('--attacks', 'pgd40, aa'), ['pgd40', 'aa']);
  assert.deepEqual(parseList('--sizes', '1,2', (p) => parseInteger('--sizes', p)), [1, 2]);
  assert.throws(() => parseList('--attacks', 'pgd40,,aa'), /--attacks: 'pgd40,,aa' has an empty item/);
  assert.throws(() => parseList('--sizes', '1,x', (p) => parseInteger('--sizes', p)), /--sizes: 'x' is not an integer >= 0/);
  assert.equal(parseChoice('--augment', 'none', ['none', 'crop-flip'] as const), 'none');
  assert.throws(() => parseChoice('--augment', 'flip', ['none', 'crop-flip'] as const), { message: "--augment: 'flip' is not one of none, crop-flip" });
});

test('parseMilestones: epoch:multiplier pairs with increasing 1-based epochs; none or empty = constant', () => {
  assert.deepEqual(parseMilestones('75:0.1,90:0.01'), [[75, 0.1], [90, 0.01]]);
  assert.deepEqual(parseMilestones(' 8:0.1, 9 : 1/100 '), [[8, 0.1], [9, 0.01]]);
  assert.deepEqual(parseMilestones('none'), []);
  assert.deepEqual(parseMilestones(''), []);
  assert.throws(() => parseMilestones('8=0.1'), { message: "--lr-milestones: '8=0.1' is not <epoch>:<multiplier>, e.g. '75:0.1,90:0.01' (or 'none')" });
  assert.throws(() => parseMilestones('0:0.1'), /--lr-milestones epoch: '0' is not an integer >= 1/);
  assert.throws(() => parseMilestones('5:0'), /--lr-milestones multiplier: '0' is not a number > 0/);
  assert.throws(() => parseMilestones('5:1/0'), /--lr-milestones multiplier: '1\/0' divides by zero/);
  assert.throws(() => parseMilestones('9:0.1,8:0.01'), /epochs out of order/);
  assert.throws(() => parseMilestones('8:0.1,,9:0.01'), /has an empty item/);
});
