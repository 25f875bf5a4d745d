/** Table 1 (spec §6.1): pre-processors in front of the TRADES target they were trained against, six columns. */
import type { DefenseMethod } from '../../../defenses/presets.js';
import { defenseLabel } from '../cells.js';
import { defense, entries, evalCell, target, type ExperimentDeclaration } from './types.js';

/** The paper's six columns, then OBL: PGD-40 made against the target alone (not in the paper; baseline validity). */
export const TABLE1_COLUMNS = ['Natural', 'PGD', 'DLR', 'AA', 'FWA', 'TI-BIM', 'OBL'] as const;
export const TABLE1_DEFENSES: readonly (DefenseMethod | undefined)[] = [undefined, 'apeg', 'hgd', 'nrp', 'jatp'];

export const table1: ExperimentDeclaration = {
  name: 'table1',
  title: 'Table 1: white-box accuracy with the TRADES target',
  panels: (seeds) => [
    {
      id: 'table1',
      title: 'Table 1: accuracy (%) of the full model, TRADES target',
      paperClaim: 'APE-G, HGD and NRP lower the accuracy of the TRADES target under every adaptive attack (robustness degradation); JATP stays close to no pre-processing.',
      chart: 'grouped-bars',
      entries: TABLE1_DEFENSES.flatMap((method) => {
        const row = defenseLabel(method ? defense(method, 'trades', 0) : undefined);
        return entries(seeds, row, undefined, TABLE1_COLUMNS, (attack, s) =>
          evalCell(target('trades', s), method ? defense(method, 'trades', s) : undefined, attack, s),
        );
      }),
    },
  ],
};
