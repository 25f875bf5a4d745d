/** Fig. 4(a) (spec §5.6, A19): fooling rate (% of test points misclassified after the attack) under BPDA and adaptive PGD, TRADES target. */
import { defenseLabel } from '../cells.js';
import { defense, entries, evalCell, target, type ExperimentDeclaration } from './types.js';

export const fig4a: ExperimentDeclaration = {
  name: 'fig4a',
  title: 'Fig. 4(a): fooling rate under BPDA and PGD',
  panels: (seeds) => [
    {
      id: 'fig4a',
      title: 'Fig. 4(a): fooling rate (%, lower is better), TRADES target',
      paperClaim: 'Under BPDA and PGD, JATP has a lower fooling rate than APE-G, HGD and NRP.',
      chart: 'fooling-bars',
      entries: (['apeg', 'hgd', 'nrp', 'jatp'] as const).flatMap((method) =>
        entries(seeds, defenseLabel(defense(method, 'trades', 0)), undefined, ['BPDA', 'PGD'], (attack, s) => evalCell(target('trades', s), defense(method, 'trades', s), attack, s), {
          metric: 'fooling',
        }),
      ),
    },
  ],
};
