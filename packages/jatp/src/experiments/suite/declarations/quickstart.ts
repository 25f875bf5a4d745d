/**
 * The README's quick start: the paper's claim in small. A TRADES target, JATP and one baseline
 * (APE-G on oblivious examples) in front of it, adaptive PGD and PGD-DLR (gradients through the
 * pre-processor) and BPDA. Not part of `all`: its cells are Table 1's, so a later `table1` in the same
 * folder reuses the trainings.
 */
import type { DefenseMethod } from '../../../defenses/presets.js';
import { defenseLabel } from '../cells.js';
import { defense, entries, evalCell, target, type ExperimentDeclaration } from './types.js';

const ROWS: readonly (DefenseMethod | undefined)[] = [undefined, 'apeg', 'jatp'];

export const quickstart: ExperimentDeclaration = {
  name: 'quickstart',
  title: "Quick start: the paper's claim in small",
  panels: (seeds) => [
    {
      id: 'quickstart',
      title: 'Quick start: accuracy (%) of the full model, TRADES target (Table 1 in small)',
      paperClaim: 'A baseline pre-processor (APE-G) lowers the robust accuracy of the TRADES target under adaptive attacks; JATP stays close to no pre-processing.',
      chart: 'grouped-bars',
      entries: ROWS.flatMap((method) =>
        entries(seeds, defenseLabel(method ? defense(method, 'trades', 0) : undefined), undefined, ['Natural', 'PGD', 'DLR', 'BPDA'], (attack, s) =>
          evalCell(target('trades', s), method ? defense(method, 'trades', s) : undefined, attack, s),
        ),
      ),
    },
  ],
};
