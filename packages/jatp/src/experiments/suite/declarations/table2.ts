/**
 * Table 2 (spec §6.2, §2.8): pre-processors trained against the TRADES target, plugged without
 * retraining in front of the Standard, MMA and MART targets; JATP′ (trained jointly with its own
 * copy of the TRADES target, spec §2.7) is evaluated the same way.
 */
import type { DefenseMethod } from '../../../defenses/presets.js';
import type { TargetRecipeName } from '../../../targets/presets.js';
import { TARGET_LABELS, defenseLabel } from '../cells.js';
import { defense, entries, evalCell, target, type ExperimentDeclaration } from './types.js';

export const TABLE2_COLUMNS = ['Natural', 'PGD', 'DLR', 'FWA'] as const;
export const TABLE2_TARGETS: readonly TargetRecipeName[] = ['standard', 'mma', 'mart'];
const ROWS: readonly (DefenseMethod | undefined)[] = [undefined, 'apeg', 'hgd', 'nrp', 'jatp', 'jatp-joint'];

export const table2: ExperimentDeclaration = {
  name: 'table2',
  title: 'Table 2: pre-processors trained with the TRADES target, in front of other targets',
  panels: (seeds) => [
    {
      id: 'table2',
      title: 'Table 2: accuracy (%) with the Standard, MMA and MART targets (pre-processors trained against TRADES)',
      paperClaim: 'The degradation of APE-G, HGD and NRP carries over to other targets; JATP and JATP′ stay close to the unprotected target.',
      chart: 'grouped-bars',
      entries: TABLE2_TARGETS.flatMap((recipe) =>
        ROWS.flatMap((method) =>
          entries(seeds, defenseLabel(method ? defense(method, 'trades', 0) : undefined), TARGET_LABELS[recipe], TABLE2_COLUMNS, (attack, s) =>
            evalCell(target(recipe, s), method ? defense(method, 'trades', s) : undefined, attack, s),
          ),
        ),
      ),
    },
  ],
};
