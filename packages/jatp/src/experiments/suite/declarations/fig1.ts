/**
 * Fig. 1 / 2 (spec §6.3, §4.4): the baselines trained on oblivious examples (Obl) degrade the
 * Standard and TRADES targets (Fig. 1(a,b)); retrained on full examples (Full) they do better but stay
 * below no pre-processing (Fig. 1(c), 2(a)); Fig. 2(b): under adaptive PGD a pre-processor's output
 * is farther from the natural image than the adversarial input was.
 */
import type { DefenseMethod } from '../../../defenses/presets.js';
import type { TargetRecipeName } from '../../../targets/presets.js';
import { PAPER_FIG2B } from '../../paper-numbers.js';
import { TARGET_LABELS, defenseLabel } from '../cells.js';
import { defense, entries, evalCell, target, type Entry, type ExperimentDeclaration } from './types.js';

const COLUMNS = ['PGD', 'AA', 'FWA'] as const;
const TARGETS: readonly TargetRecipeName[] = ['standard', 'trades'];
const BASELINES: readonly DefenseMethod[] = ['apeg', 'hgd', 'nrp'];

function rows(seeds: readonly number[], withFull: boolean): Entry[] {
  return TARGETS.flatMap((recipe) => [
    ...entries(seeds, 'None', TARGET_LABELS[recipe], COLUMNS, (attack, s) => evalCell(target(recipe, s), undefined, attack, s)),
    ...BASELINES.flatMap((method) =>
      (withFull ? (['obl', 'full'] as const) : (['obl'] as const)).flatMap((examples) =>
        entries(seeds, defenseLabel(defense(method, recipe, 0, { examples }), withFull), TARGET_LABELS[recipe], COLUMNS, (attack, s) =>
          evalCell(target(recipe, s), defense(method, recipe, s, { examples }), attack, s),
        ),
      ),
    ),
  ]);
}

export const fig1: ExperimentDeclaration = {
  name: 'fig1',
  title: 'Fig. 1 / 2: robustness degradation of the baselines, Obl vs Full training examples, L1 distances',
  panels: (seeds) => [
    {
      id: 'fig1',
      title: 'Fig. 1(a,b): baselines on oblivious examples vs no pre-processing (accuracy %)',
      paperClaim: 'APE-G, HGD and NRP trained on oblivious examples reduce white-box accuracy relative to None for both targets.',
      chart: 'grouped-bars',
      entries: rows(seeds, false),
    },
    {
      id: 'fig2a',
      title: 'Fig. 1(c) / 2(a): Obl vs Full training examples (accuracy %)',
      paperClaim: 'Full retraining beats Obl but stays below None.',
      chart: 'grouped-bars',
      entries: rows(seeds, true),
    },
    {
      id: 'fig2b',
      title: 'Fig. 2(b): mean L1 distance to the natural image (0–255 scale) under adaptive PGD, TRADES target',
      paperClaim: `The pre-processed adversarial images are farther from the natural ones than the adversarial inputs (paper: ${PAPER_FIG2B.adversarialVsNatural} vs ${PAPER_FIG2B.purifiedVsNatural}, pre-processor not stated).`,
      chart: 'l1-bars',
      note: 'Per-element mean |difference| x 255, averaged over the test points the attack actually perturbed (points it returned unchanged are left out).',
      entries: (['apeg', 'hgd', 'nrp', 'jatp'] as const).flatMap((method) => [
        ...entries(seeds, defenseLabel(defense(method, 'trades', 0)), undefined, ['adversarial vs natural'], (_a, s) => evalCell(target('trades', s), defense(method, 'trades', s), 'PGD', s), { metric: 'l1-adv' }),
        ...entries(seeds, defenseLabel(defense(method, 'trades', 0)), undefined, ['purified vs natural'], (_a, s) => evalCell(target('trades', s), defense(method, 'trades', s), 'PGD', s), { metric: 'l1-purified' }),
      ]),
    },
  ],
};
