import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAttack, parseAttackList, parseAttackSpec, parseEps } from '../../src/attacks/attack-specs.js';
import { Pgd } from '../../src/attacks/pgd.js';
import { Apgd } from '../../src/attacks/apgd.js';
import { TiBim } from '../../src/attacks/tibim.js';

test('the issue\'s attack list parses with families, budgets and the BPDA flag', () => {
  const specs = parseAttackList('pgd40,dlr40,aa,fwa20,tibim,bpda');
  assert.deepEqual(
    specs.map((s) => [s.family, s.budget, s.bpda]),
    [
      ['pgd', 40, false],
      ['dlr', 40, false],
      ['aa', undefined, false],
      ['fwa', 20, false],
      ['tibim', 40, false],
      ['bpda', 40, true],
    ],
  );
  assert.equal(parseAttackSpec('pgd20').budget, 20);
  assert.equal(parseAttackSpec('square5000').budget, 5000);
  assert.equal(parseAttackSpec('square').budget, 5000);
  assert.equal(parseAttackSpec('apgd-ce').family, 'apgd-ce');
  assert.equal(parseAttackSpec('apgd-t').family, 'apgd-t');
  assert.equal(parseAttackSpec('fab-t').family, 'fab-t');
  assert.equal(parseAttackSpec('tibim40').budget, 40);
  assert.equal(parseAttackSpec('fwa20').budget, 20);
});

test('unknown names and malformed budgets are errors that list the valid attacks', () => {
  for (const bad of ['pgdx', 'pgd', 'pgd-5', 'pgd0', 'pgd40x', 'aa10', 'dlr4.5', 'fgsm', '', 'square5k']) {
    assert.throws(
      () => parseAttackList(bad),
      (err: Error) => /--attacks/.test(err.message) && /pgd<steps>/.test(err.message) && /square/.test(err.message),
      `'${bad}' should be rejected with the valid list`,
    );
  }
});

test('eps strings: fractions and decimals; bad input names the flag', () => {
  assert.equal(parseEps('8/255'), 8 / 255);
  assert.equal(parseEps(' 16 / 255 '), 16 / 255);
  assert.equal(parseEps('0.1'), 0.1);
  assert.equal(parseEps('.03'), 0.03);
  assert.equal(parseEps('1e-2'), 0.01);
  for (const bad of ['8/0', 'abc', '-0.1', '2', '8/255/2', '']) {
    assert.throws(() => parseEps(bad, '--eps'), /--eps/, `'${bad}'`);
  }
});

test('buildAttack uses the spec §5 settings for each family', () => {
  const eps = 8 / 255;
  const p = buildAttack(parseAttackSpec('pgd40'), { eps });
  assert.ok(p instanceof Pgd);
  assert.equal(p.options.steps, 40);
  assert.equal(p.options.stepSize, 0.01);
  assert.equal(p.options.loss, 'ce');
  assert.equal(p.options.eps, eps);
  const d = buildAttack(parseAttackSpec('dlr40'), { eps }) as Pgd;
  assert.equal(d.options.stepSize, 0.007);
  assert.equal(d.options.loss, 'dlr');
  const b = buildAttack(parseAttackSpec('bpda'), { eps }) as Pgd;
  assert.equal(b.options.steps, 40);
  assert.equal(b.options.stepSize, 0.01);
  const a = buildAttack(parseAttackSpec('apgd-t'), { eps }) as Apgd;
  assert.ok(a instanceof Apgd);
  assert.equal(a.options.nIter, 100);
  assert.equal(a.options.nTargetClasses, 9);
  const t = buildAttack(parseAttackSpec('tibim'), { eps }) as TiBim;
  assert.ok(t instanceof TiBim);
  assert.equal(t.options.steps, 40);
  assert.equal(t.options.stepSize, 0.007);
  assert.equal(buildAttack(parseAttackSpec('aa'), { eps }).name, 'aa');
  assert.equal(buildAttack(parseAttackSpec('square5000'), { eps }).name, 'square');
  assert.throws(() => buildAttack(parseAttackSpec('square5000'), { eps: 0.5, norm: 'L2' }), /--norm L2.*square5000.*only Linf/);
  assert.equal((buildAttack(parseAttackSpec('pgd10'), { eps: 0.5, norm: 'L2' }) as Pgd).options.norm, 'L2');
  // every family builds (FAB-T and FWA come from attacks-B's files)
  for (const name of ['fab-t', 'fwa20', 'apgd-ce', 'pgd20']) {
    const attack = buildAttack(parseAttackSpec(name), { eps });
    assert.equal(typeof attack.run, 'function', name);
  }
});
